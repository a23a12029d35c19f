using System.Security.Cryptography;

namespace KontinuumP2P.Certs.Trust;

/// <summary>A Tier 0 anchor key.</summary>
/// <param name="PublicKey">The raw 32-byte Ed25519 key.</param>
/// <param name="Label">Who holds it, e.g. <c>us-east</c>.</param>
public sealed record Anchor(ReadOnlyMemory<byte> PublicKey, string Label)
{
    /// <summary>The key id: the first 8 bytes of SHA-256(public key), hex. For display only — counting uses the keys.</summary>
    public string KeyId => KeyIdOf(PublicKey.Span);

    /// <summary>The key as lowercase hex.</summary>
    public string PublicKeyHex => Convert.ToHexStringLower(PublicKey.Span);

    /// <summary>The key id of a raw public key.</summary>
    public static string KeyIdOf(ReadOnlySpan<byte> publicKey) => Convert.ToHexStringLower(SHA256.HashData(publicKey).AsSpan(0, 8));
}
