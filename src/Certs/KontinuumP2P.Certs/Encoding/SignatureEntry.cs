namespace KontinuumP2P.Certs.Encoding;

/// <summary>One (tier0_pubkey, signature) pair of a multi-signed document.</summary>
/// <param name="PublicKey">The raw 32-byte Ed25519 anchor key that claims to have signed.</param>
/// <param name="Signature">The 64-byte Ed25519 signature over <c>prefix || body</c>.</param>
public sealed record SignatureEntry(ReadOnlyMemory<byte> PublicKey, ReadOnlyMemory<byte> Signature)
{
    /// <summary>Raw Ed25519 public key length.</summary>
    public const int PublicKeyLength = 32;

    /// <summary>Ed25519 signature length.</summary>
    public const int SignatureLength = 64;

    /// <summary>The key as lowercase hex.</summary>
    public string PublicKeyHex => Convert.ToHexStringLower(PublicKey.Span);
}
