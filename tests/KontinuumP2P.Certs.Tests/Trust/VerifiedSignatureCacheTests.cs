using System.Security.Cryptography;
using KontinuumP2P.Certs.Hashing;
using KontinuumP2P.Certs.Trust;

namespace KontinuumP2P.Certs.Tests.Trust;

/// <summary>The cache's key is BLAKE3 over key, signature and message, whatever the message's size (BLAKE3 itself is checked against the official vectors in Hashing/).</summary>
public sealed class VerifiedSignatureCacheTests
{
    // 0 and 928 fit the stack buffer with a 32-byte key and a 64-byte signature; 929 and 70,000 take the rented one.
    [TestCase(0)]
    [TestCase(928)]
    [TestCase(929)]
    [TestCase(70_000)]
    public void The_digest_is_blake3_of_key_signature_and_message(int messageLength)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var signature = RandomNumberGenerator.GetBytes(64);
        var message = RandomNumberGenerator.GetBytes(messageLength);

        var expected = new VerifiedSignatureCache.Digest(Blake3.Hash([.. key, .. signature, .. message]));

        Assert.That(VerifiedSignatureCache.DigestOf(key, signature, message), Is.EqualTo(expected));
    }
}
