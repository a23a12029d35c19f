using KontinuumP2P.Net.Security.Noise;
using NSec.Cryptography;

namespace KontinuumP2P.Net.Tests.Crypto;

/// <summary>
/// Wycheproof HKDF-SHA256 through <see cref="NoiseHkdf"/>: both the BCL path (raw key material: Split) and the NSec
/// path (a shared secret: MixKey after a DH). Output sizes over 255·32 bytes must be refused. No "acceptable" cases.
/// </summary>
public sealed class WycheproofHkdfTests
{
    // NSec imports raw shared secrets of at most this many bytes; longer ikm only goes through the BCL path.
    private const int NSecMaxSharedSecret = 128;

    [Test]
    public void EveryCaseDerivesTheExpectedKeyOnBothPaths()
    {
        var cases = WycheproofVectors.Load("wycheproof_hkdf_sha256_test.json", out var document);
        using var file = document;
        var failures = new List<string>();
        var viaNSec = 0;
        foreach (var testCase in cases)
        {
            var (ikm, salt, info) = (testCase.Bytes("ikm"), testCase.Bytes("salt"), testCase.Bytes("info"));
            var size = testCase.Test.GetProperty("size").GetInt32();
            var valid = testCase.Result == "valid";
            var expected = valid ? testCase.Bytes("okm") : [];
            var bcl = Derive(output => NoiseHkdf.Derive(salt, ikm, info, output), size);
            if (valid ? bcl is null || !bcl.AsSpan().SequenceEqual(expected) : bcl is not null)
                failures.Add($"{testCase}: BCL path wrong");
            if (ikm.Length > NSecMaxSharedSecret) continue;
            viaNSec++;
            using var secret = SharedSecret.Import(ikm, SharedSecretBlobFormat.RawSharedSecret);
            var nsec = Derive(output => NoiseHkdf.Derive(salt, secret, info, output), size);
            if (valid ? nsec is null || !nsec.AsSpan().SequenceEqual(expected) : nsec is not null)
                failures.Add($"{testCase}: NSec path wrong");
        }
        TestContext.Out.WriteLine($"HKDF-SHA256: {cases.Count} cases via BCL, {viaNSec} via NSec");
        Assert.That(failures, Is.Empty);
        Assert.That(viaNSec, Is.GreaterThan(cases.Count / 2));
    }

    private delegate void Deriver(Span<byte> output);

    private static byte[]? Derive(Deriver derive, int size)
    {
        var output = new byte[size];
        try
        {
            derive(output);
            return output;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
