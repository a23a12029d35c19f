using System.Security.Cryptography;
using NSec.Cryptography;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>An X25519 key pair (NSec) for the Noise DH operations. Disposing it erases the private key.</summary>
internal sealed class X25519KeyPair : IDisposable
{
    /// <summary>Length of public keys and DH outputs.</summary>
    public const int KeySize = 32;

    private static readonly KeyAgreementAlgorithm Algorithm = KeyAgreementAlgorithm.X25519;
    private readonly Key _key;

    private X25519KeyPair(Key key)
    {
        _key = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    /// <summary>The 32-byte public key.</summary>
    public byte[] PublicKey { get; }

    /// <summary>A fresh key pair from the operating system's random source.</summary>
    public static X25519KeyPair Generate() => new(Key.Create(Algorithm));

    /// <summary>The key pair of a given 32-byte private scalar (test vectors; clamping happens inside X25519).</summary>
    public static X25519KeyPair FromPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != KeySize) throw new ArgumentException("an X25519 private key is 32 bytes", nameof(privateKey));
        return new X25519KeyPair(Key.Import(Algorithm, privateKey, KeyBlobFormat.RawPrivateKey));
    }

    /// <summary>
    /// DH(this, <paramref name="remotePublicKey"/>) as an NSec shared secret (its raw bytes are never exposed; derive
    /// from it). An unparsable key or an all-zero result (low-order point) throws.
    /// </summary>
    /// <exception cref="CryptographicException">The key agreement failed.</exception>
    public SharedSecret Agree(ReadOnlySpan<byte> remotePublicKey)
    {
        if (remotePublicKey.Length != KeySize ||
            !NSec.Cryptography.PublicKey.TryImport(Algorithm, remotePublicKey, KeyBlobFormat.RawPublicKey, out var remote) ||
            remote is null)
            throw new CryptographicException("invalid X25519 public key");
        // libsodium refuses an all-zero output; NSec then hands back null.
        return Algorithm.Agree(_key, remote) ?? throw new CryptographicException("X25519 produced an all-zero shared secret");
    }

    /// <inheritdoc />
    public void Dispose() => _key.Dispose();
}
