using System.Security.Cryptography;
using KontinuumP2P.Certs.Hashing;
using KontinuumP2P.Certs.Mnemonics;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Certs.NodeIdentity;

/// <summary>
/// Derives a node's Ed25519 identity from its BIP39 seed: Ed25519 seed = BLAKE3-derive-key("kontinuum node identity
/// ed25519 v1", BIP39 seed). The same phrase always gives the same PeerId, so the phrase alone recovers the node.
/// </summary>
public static class NodeKeyDerivation
{
    /// <summary>The BLAKE3 derive-key context.</summary>
    public const string Context = "kontinuum node identity ed25519 v1";

    /// <summary>The identity of a BIP39 phrase (no BIP39 passphrase).</summary>
    /// <exception cref="InvalidMnemonicException">The phrase is not valid; the message names the bad word or checksum.</exception>
    public static Ed25519Identity FromPhrase(string phrase)
    {
        var seed = Bip39.ToSeed(phrase);
        try
        {
            return FromBip39Seed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>The identity of a 64-byte BIP39 seed (PBKDF2 output of the phrase).</summary>
    public static Ed25519Identity FromBip39Seed(ReadOnlySpan<byte> bip39Seed)
    {
        if (bip39Seed.Length != 64) throw new ArgumentException("a BIP39 seed is 64 bytes", nameof(bip39Seed));
        var seed = Blake3.DeriveKey(Context, bip39Seed);
        try
        {
            return Ed25519Identity.FromSeed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }
}
