using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Net.Tests.Crypto;

/// <summary>
/// Wycheproof Ed25519 verification through <see cref="Ed25519Identity.Verify"/>, the check applied to the Noise
/// identity signature. Valid cases must verify and invalid ones must not; the file has no "acceptable" cases.
/// </summary>
public sealed class WycheproofEd25519Tests
{
    [Test]
    public void EveryCaseVerifiesExactlyWhenValid()
    {
        var cases = WycheproofVectors.Load("wycheproof_ed25519_test.json", out var document);
        using var file = document;
        var failures = new List<string>();
        var accepted = 0;
        foreach (var testCase in cases)
        {
            var publicKey = Convert.FromHexString(testCase.Group.GetProperty("publicKey").GetProperty("pk").GetString()!);
            var verified = Ed25519Identity.Verify(publicKey, testCase.Bytes("msg"), testCase.Bytes("sig"));
            if (verified) accepted++;
            if (verified != (testCase.Result == "valid")) failures.Add($"{testCase}: verify gave {verified}");
        }
        TestContext.Out.WriteLine($"Ed25519: {accepted} verified of {cases.Count}");
        Assert.That(failures, Is.Empty);
        Assert.That(cases.Any(c => c.Result == "acceptable"), Is.False, "acceptable cases would need a documented policy");
    }
}
