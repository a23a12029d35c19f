using System.Security.Cryptography;
using NSec.Cryptography;

namespace KontinuumP2P.Core.Identity;

/// <summary>An Ed25519 key pair that identifies a host. Disposing it erases the private key.</summary>
public sealed class Ed25519Identity : IDisposable
{
    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    private Ed25519Identity(Key key)
    {
        _key = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        EncodedPublicKey = PublicKeyEncoding.Encode(KeyType.Ed25519, PublicKey);
        PeerId = PeerId.FromEncodedPublicKey(EncodedPublicKey);
    }

    /// <summary>The 32-byte raw public key.</summary>
    public byte[] PublicKey { get; }

    /// <summary>The public key in the libp2p <c>PublicKey</c> protobuf form (36 bytes).</summary>
    public byte[] EncodedPublicKey { get; }

    /// <summary>The PeerId derived from the public key.</summary>
    public PeerId PeerId { get; }

    /// <summary>Creates a fresh identity from the operating system's random source.</summary>
    public static Ed25519Identity Generate() => FromSeed(RandomNumberGenerator.GetBytes(32));

    /// <summary>Creates the identity whose RFC 8032 private seed is <paramref name="seed"/> (32 bytes).</summary>
    public static Ed25519Identity FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != 32) throw new ArgumentException("an Ed25519 seed is 32 bytes", nameof(seed));
        var key = Key.Import(Algorithm, seed, KeyBlobFormat.RawPrivateKey,
            new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return new Ed25519Identity(key);
    }

    /// <summary>Returns a copy of the 32-byte private seed (for key files; the caller erases it).</summary>
    public byte[] ExportSeed() => _key.Export(KeyBlobFormat.RawPrivateKey);

    /// <summary>Signs <paramref name="message"/> (plain RFC 8032, 64-byte signature).</summary>
    public byte[] Sign(ReadOnlySpan<byte> message) => Algorithm.Sign(_key, message);

    /// <summary>Verifies an Ed25519 signature by the raw 32-byte <paramref name="publicKey"/>.</summary>
    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != 32 || signature.Length != 64) return false;
        if (!NSec.Cryptography.PublicKey.TryImport(Algorithm, publicKey, KeyBlobFormat.RawPublicKey, out var key) || key is null)
            return false;
        return Algorithm.Verify(key, message, signature);
    }

    /// <summary>Verifies a signature by a key in the libp2p <c>PublicKey</c> protobuf form (Ed25519 only).</summary>
    public static bool VerifyEncoded(ReadOnlySpan<byte> encodedPublicKey, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        try
        {
            var (type, data) = PublicKeyEncoding.Decode(encodedPublicKey);
            return type == KeyType.Ed25519 && Verify(data, message, signature);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _key.Dispose();
}
