namespace KontinuumP2P.Core.Identity;

/// <summary>Key types of the libp2p <c>PublicKey</c> protobuf. Only Ed25519 identities are created here.</summary>
public enum KeyType
{
    /// <summary>RSA (parsed for PeerId display only).</summary>
    Rsa = 0,
    /// <summary>Ed25519, the only identity KontinuumP2P creates.</summary>
    Ed25519 = 1,
    /// <summary>secp256k1 (parsed for PeerId display only).</summary>
    Secp256k1 = 2,
    /// <summary>ECDSA (parsed for PeerId display only).</summary>
    Ecdsa = 3,
}
