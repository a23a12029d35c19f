using System.Security.Cryptography;
using System.Text;
using KontinuumP2P.Net.Security.Noise;
using NSec.Cryptography;

namespace KontinuumP2P.Net.Tests.Crypto;

/// <summary>
/// Wycheproof X25519 through the Noise DH path: <see cref="X25519KeyPair.Agree"/> (NSec) and the HKDF that MixKey
/// applies to its shared secret, compared with the same HKDF over the expected raw shared value.
/// "acceptable" cases: twist points and non-canonical public keys are accepted (RFC 7748 requires it) and must give
/// the expected value; every case whose shared value is all zero (low-order points) is refused, because Noise/libp2p
/// treats an all-zero DH as a handshake failure.
/// </summary>
public sealed class WycheproofX25519Tests
{
    [Test]
    public void EveryCaseBehavesAsNoiseRequires()
    {
        var cases = WycheproofVectors.Load("wycheproof_x25519_test.json", out var document);
        using var file = document;
        var salt = Encoding.ASCII.GetBytes(XXHandshakeState.ProtocolName);
        var failures = new List<string>();
        int matched = 0, refusedZero = 0;
        foreach (var testCase in cases)
        {
            var expected = testCase.Bytes("shared");
            var zero = expected.All(b => b == 0);
            using var key = X25519KeyPair.FromPrivateKey(testCase.Bytes("private"));
            SharedSecret? secret = null;
            try
            {
                secret = key.Agree(testCase.Bytes("public"));
            }
            catch (CryptographicException)
            {
                // Refused: checked below.
            }
            using (secret)
            {
                if (zero)
                {
                    if (secret is not null) failures.Add($"{testCase}: all-zero shared secret was not refused");
                    else refusedZero++;
                    continue;
                }
                if (testCase.Result == "invalid")
                {
                    if (secret is not null) failures.Add($"{testCase}: invalid case accepted");
                    continue;
                }
                if (secret is null)
                {
                    failures.Add($"{testCase}: refused");
                    continue;
                }
                var viaNoise = new byte[64];
                var viaExpected = new byte[64];
                NoiseHkdf.Derive(salt, secret, ReadOnlySpan<byte>.Empty, viaNoise);
                NoiseHkdf.Derive(salt, expected, ReadOnlySpan<byte>.Empty, viaExpected);
                if (!viaNoise.AsSpan().SequenceEqual(viaExpected)) failures.Add($"{testCase}: shared secret differs");
                else matched++;
            }
        }
        TestContext.Out.WriteLine($"X25519: {matched} matched, {refusedZero} all-zero refused, of {cases.Count}");
        Assert.That(failures, Is.Empty);
        Assert.That(matched + refusedZero, Is.EqualTo(cases.Count));
    }
}
