using System.Security.Cryptography;
using NSec.Cryptography;

namespace KontinuumP2P.Mailbox.Crypto;

/// <summary>
/// Seals a plaintext into a mailbox blob and opens it again. Layout: <c>version u8 (1) | nonce[24] |
/// XChaCha20-Poly1305(blob key, nonce, aad = "kontinuum/mailbox/blob" || version, padded plaintext) | tag[16]</c>.
/// The nonce is random per seal; the version is bound by the AAD so it cannot be swapped. The bytes are sealed once
/// and pushed identically to every mailbox, so copies share one <see cref="BlobId"/>.
/// </summary>
public static class BlobCipher
{
    /// <summary>The only format version.</summary>
    public const byte Version = 1;

    /// <summary>XChaCha20-Poly1305 nonce length.</summary>
    public const int NonceLength = 24;

    /// <summary>Poly1305 tag length.</summary>
    public const int TagLength = 16;

    /// <summary>Bytes a sealed blob adds to its size class.</summary>
    public const int Overhead = 1 + NonceLength + BlobPadding.HeaderLength + TagLength;

    /// <summary>Largest sealed blob (1 MiB class plus overhead, within the wire's 1 MiB + 64 B).</summary>
    public const int MaxSealedLength = BlobPadding.MaxPlaintextLength + Overhead;

    private static readonly AeadAlgorithm Aead = AeadAlgorithm.XChaCha20Poly1305;

    /// <summary>Pads and seals <paramref name="plaintext"/> under <paramref name="blobKey"/> with a random nonce.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Plaintext over 1 MiB.</exception>
    public static SealedBlob Seal(ReadOnlySpan<byte> blobKey, ReadOnlySpan<byte> plaintext)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        RandomNumberGenerator.Fill(nonce);
        return SealWithNonce(blobKey, nonce, plaintext);
    }

    /// <summary>Pads and seals under a group's blob key (its imported key is reused).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Plaintext over 1 MiB.</exception>
    public static SealedBlob Seal(GroupKeys keys, ReadOnlySpan<byte> plaintext)
    {
        ArgumentNullException.ThrowIfNull(keys);
        Span<byte> nonce = stackalloc byte[NonceLength];
        RandomNumberGenerator.Fill(nonce);
        return SealWith(keys.AeadKey, nonce, plaintext);
    }

    /// <summary>Opens under a group's blob key (its imported key is reused).</summary>
    /// <exception cref="BlobFormatException">As <see cref="Open(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>.</exception>
    public static byte[] Open(GroupKeys keys, ReadOnlySpan<byte> sealedBlob)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return OpenWith(keys.AeadKey, sealedBlob);
    }

    /// <summary>Opens under an imported blob key (history keys from an invite).</summary>
    internal static byte[] Open(Key key, ReadOnlySpan<byte> sealedBlob) => OpenWith(key, sealedBlob);

    internal static Key ImportKey(ReadOnlySpan<byte> blobKey)
    {
        if (blobKey.Length != GroupKeys.KeyLength) throw new ArgumentException($"blob key must be {GroupKeys.KeyLength} bytes", nameof(blobKey));
        return Key.Import(Aead, blobKey, KeyBlobFormat.RawSymmetricKey);
    }

    /// <summary>Seal with a given nonce: for known-answer tests only (a reused nonce breaks the cipher).</summary>
    internal static SealedBlob SealWithNonce(ReadOnlySpan<byte> blobKey, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext)
    {
        using var key = ImportKey(blobKey);
        return SealWith(key, nonce, plaintext);
    }

    private static SealedBlob SealWith(Key key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext)
    {
        var padded = BlobPadding.Pad(plaintext);
        var sealedBytes = new byte[1 + NonceLength + padded.Length + TagLength];
        sealedBytes[0] = Version;
        nonce.CopyTo(sealedBytes.AsSpan(1));
        Aead.Encrypt(key, nonce, AssociatedData(Version), padded, sealedBytes.AsSpan(1 + NonceLength));
        CryptographicOperations.ZeroMemory(padded);
        return new SealedBlob(sealedBytes, BlobId.Of(sealedBytes));
    }

    /// <summary>Authenticates, decrypts and unpads a sealed blob.</summary>
    /// <exception cref="BlobFormatException">Wrong version, a length that is no size class, a failed tag (wrong key or
    /// altered bytes), or bad padding. Nothing is returned in any of these cases.</exception>
    public static byte[] Open(ReadOnlySpan<byte> blobKey, ReadOnlySpan<byte> sealedBlob)
    {
        if (blobKey.Length != GroupKeys.KeyLength) throw new BlobFormatException($"blob key must be {GroupKeys.KeyLength} bytes");
        using var key = ImportKey(blobKey);
        return OpenWith(key, sealedBlob);
    }

    private static byte[] OpenWith(Key key, ReadOnlySpan<byte> sealedBlob)
    {
        if (sealedBlob.Length < 1 + NonceLength + TagLength) throw new BlobFormatException($"sealed blob of {sealedBlob.Length} bytes is truncated");
        if (sealedBlob[0] != Version) throw new BlobFormatException($"sealed blob version {sealedBlob[0]} is not supported (expected {Version})");
        var paddedLength = sealedBlob.Length - 1 - NonceLength - TagLength;
        if (!BlobPadding.IsPaddedLength(paddedLength)) throw new BlobFormatException($"sealed blob of {sealedBlob.Length} bytes is not a size class");
        var padded = new byte[paddedLength];
        try
        {
            if (!Aead.Decrypt(key, sealedBlob.Slice(1, NonceLength), AssociatedData(Version), sealedBlob[(1 + NonceLength)..], padded))
                throw new BlobFormatException("sealed blob failed authentication (wrong group key or altered bytes)");
            return BlobPadding.Unpad(padded);
        }
        catch (FormatException e) when (e is not BlobFormatException)
        {
            throw new BlobFormatException(e.Message);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(padded);
        }
    }

    /// <summary>Raw XChaCha20-Poly1305 encryption into <paramref name="ciphertextAndTag"/> (plaintext length + 16).</summary>
    internal static void Encrypt(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> aad, ReadOnlySpan<byte> plaintext, Span<byte> ciphertextAndTag)
    {
        if (key.Length != GroupKeys.KeyLength) throw new ArgumentException($"blob key must be {GroupKeys.KeyLength} bytes", nameof(key));
        if (nonce.Length != NonceLength) throw new ArgumentException($"nonce must be {NonceLength} bytes", nameof(nonce));
        using var k = Key.Import(Aead, key, KeyBlobFormat.RawSymmetricKey);
        Aead.Encrypt(k, nonce, aad, plaintext, ciphertextAndTag);
    }

    /// <summary>Raw XChaCha20-Poly1305 decryption; false on any mismatch or wrong size.</summary>
    internal static bool Decrypt(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> aad, ReadOnlySpan<byte> ciphertextAndTag, Span<byte> plaintext)
    {
        if (key.Length != GroupKeys.KeyLength || nonce.Length != NonceLength || ciphertextAndTag.Length != plaintext.Length + TagLength) return false;
        using var k = Key.Import(Aead, key, KeyBlobFormat.RawSymmetricKey);
        return Aead.Decrypt(k, nonce, aad, ciphertextAndTag, plaintext);
    }

    private static byte[] AssociatedData(byte version) => [.. "kontinuum/mailbox/blob"u8, version];
}

/// <summary>A sealed blob and its id.</summary>
/// <param name="Bytes">The sealed bytes, pushed unchanged to every mailbox.</param>
/// <param name="Id">BLAKE3 of <paramref name="Bytes"/>.</param>
public sealed record SealedBlob(byte[] Bytes, BlobId Id);

/// <summary>A sealed blob that cannot be opened: malformed, altered, or sealed under another group key.</summary>
public sealed class BlobFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public BlobFormatException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public BlobFormatException() { }

    /// <summary>Creates the exception.</summary>
    public BlobFormatException(string message, Exception innerException) : base(message, innerException) { }
}
