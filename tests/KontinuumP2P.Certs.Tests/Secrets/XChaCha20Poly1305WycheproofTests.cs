using System.Text.Json;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Certs.Tests.Secrets;

/// <summary>
/// Wycheproof XChaCha20-Poly1305 through <see cref="XChaCha20Poly1305Aead"/>, the AEAD the backups and key files use.
/// Valid cases must decrypt to the message and encrypt to ct||tag; invalid ones (bad tags, wrong nonce sizes) must not
/// decrypt. The file has no "acceptable" cases; one would be counted with the invalid ones only if it failed to open.
/// </summary>
public sealed class XChaCha20Poly1305WycheproofTests
{
    [Test]
    public void AllCasesBehaveAsTheVectorsSay()
    {
        using var doc = SharedVectors.LoadJson("wycheproof_xchacha20_poly1305_test.json");
        int valid = 0, invalid = 0;
        foreach (var group in doc.RootElement.GetProperty("testGroups").EnumerateArray())
        {
            foreach (var test in group.GetProperty("tests").EnumerateArray())
            {
                var id = test.GetProperty("tcId").GetInt32();
                var key = Hex(test, "key");
                var nonce = Hex(test, "iv");
                var aad = Hex(test, "aad");
                var msg = Hex(test, "msg");
                byte[] sealedBytes = [.. Hex(test, "ct"), .. Hex(test, "tag")];
                var result = test.GetProperty("result").GetString();
                var opened = XChaCha20Poly1305Aead.TryOpen(key, nonce, aad, sealedBytes, out var plaintext);
                if (result == "valid")
                {
                    Assert.That(opened, Is.True, $"tcId {id} should open");
                    Assert.That(plaintext, Is.EqualTo(msg), $"tcId {id} plaintext");
                    Assert.That(XChaCha20Poly1305Aead.Seal(key, nonce, aad, msg), Is.EqualTo(sealedBytes), $"tcId {id} ciphertext");
                    valid++;
                }
                else
                {
                    Assert.That(opened, Is.False, $"tcId {id} ({result}) must not open");
                    Assert.That(plaintext, Is.Null);
                    invalid++;
                }
            }
        }
        Assert.That(valid + invalid, Is.EqualTo(doc.RootElement.GetProperty("numberOfTests").GetInt32()));
        Assert.That(valid, Is.GreaterThan(0));
        Assert.That(invalid, Is.GreaterThan(0));
    }

    private static byte[] Hex(JsonElement test, string name) => Convert.FromHexString(test.GetProperty(name).GetString()!);
}
