using System.Buffers.Binary;
using KontinuumP2P.Net.Security.Noise;

namespace KontinuumP2P.Net.Tests.Crypto;

/// <summary>
/// Wycheproof ChaCha20-Poly1305 through <see cref="ChaChaPolyKey"/> (the AEAD under every CipherState), and additionally
/// through <see cref="CipherState"/> itself for the cases whose nonce has the Noise shape (4 zero bytes ‖ u64 LE).
/// Nonces that are not 12 bytes are refused. The file has no "acceptable" cases.
/// </summary>
public sealed class WycheproofChaChaPolyTests
{
    [Test]
    public void EveryCaseSealsAndOpensAsExpected()
    {
        var cases = WycheproofVectors.Load("wycheproof_chacha20_poly1305_test.json", out var document);
        using var file = document;
        var failures = new List<string>();
        int viaCipherState = 0, checkedCases = 0;
        foreach (var testCase in cases)
        {
            var (key, nonce, ad, message) = (testCase.Bytes("key"), testCase.Bytes("iv"), testCase.Bytes("aad"), testCase.Bytes("msg"));
            byte[] sealedExpected = [.. testCase.Bytes("ct"), .. testCase.Bytes("tag")];
            var valid = testCase.Result == "valid";
            using var aead = new ChaChaPolyKey(key);
            checkedCases++;
            if (nonce.Length != ChaChaPolyKey.NonceSize)
            {
                if (valid || !Refuses(() => aead.Seal(nonce, ad, message, new byte[message.Length + 16])))
                    failures.Add($"{testCase}: {nonce.Length}-byte nonce not refused");
                continue;
            }
            var opened = new byte[message.Length];
            var opens = aead.TryOpen(nonce, ad, sealedExpected, opened) && opened.AsSpan().SequenceEqual(message);
            if (opens != valid) failures.Add($"{testCase}: open gave {opens}");
            if (valid)
            {
                var sealedActual = new byte[message.Length + ChaChaPolyKey.TagSize];
                aead.Seal(nonce, ad, message, sealedActual);
                if (!sealedActual.AsSpan().SequenceEqual(sealedExpected)) failures.Add($"{testCase}: seal differs");
            }
            if (nonce.AsSpan(0, 4).IndexOfAnyExcept((byte)0) < 0)
            {
                viaCipherState++;
                var counter = BinaryPrimitives.ReadUInt64LittleEndian(nonce.AsSpan(4));
                using var receiver = new CipherState();
                receiver.InitializeKey(key);
                receiver.SetNonce(counter);
                var plain = new byte[message.Length];
                var ok = receiver.TryDecryptWithAd(ad, sealedExpected, plain, out _) && plain.AsSpan().SequenceEqual(message);
                if (ok != valid) failures.Add($"{testCase}: CipherState decrypt gave {ok}");
            }
        }
        TestContext.Out.WriteLine($"ChaCha20-Poly1305: {checkedCases} cases, {viaCipherState} also through CipherState");
        Assert.That(failures, Is.Empty);
        Assert.That(viaCipherState, Is.GreaterThan(0));
    }

    private static bool Refuses(Action action)
    {
        try
        {
            action();
            return false;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }
}
