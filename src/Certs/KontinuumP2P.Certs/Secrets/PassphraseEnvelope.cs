using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using KontinuumP2P.Certs.Encoding;
using NSec.Cryptography;

namespace KontinuumP2P.Certs.Secrets;

/// <summary>
/// Encrypts a small secret under a passphrase: key = Argon2id(passphrase UTF-8, 16-byte salt, 32 bytes), then
/// XChaCha20-Poly1305 with a random 24-byte nonce and the whole header as associated data, so changing the stated
/// parameters or content type breaks authentication. Layout (big-endian):
/// <c>"KPSEAL01" | content u8 | memoryKiB u32 | passes u32 | salt[16] | nonce[24] | length u32 | ciphertext | tag[16]</c>.
/// </summary>
public static class PassphraseEnvelope
{
    /// <summary>The file magic.</summary>
    public static ReadOnlySpan<byte> Magic => "KPSEAL01"u8;

    /// <summary>Largest secret sealed.</summary>
    public const int MaxPlaintextLength = 64 * 1024;

    private const int SaltLength = 16;
    private const int HeaderLength = 8 + 1 + 4 + 4 + SaltLength + XChaCha20Poly1305Aead.NonceLength + 4;

    /// <summary>Whether <paramref name="bytes"/> starts with the envelope magic.</summary>
    public static bool IsEnvelope(ReadOnlySpan<byte> bytes) => bytes.StartsWith(Magic);

    /// <summary>Seals <paramref name="plaintext"/>.</summary>
    public static byte[] Seal(ReadOnlySpan<byte> plaintext, string passphrase, byte contentType, KdfParameters kdf)
    {
        ArgumentNullException.ThrowIfNull(passphrase);
        kdf.Validate();
        if (passphrase.Length == 0) throw new ArgumentException("passphrase is empty", nameof(passphrase));
        if (plaintext.Length > MaxPlaintextLength) throw new ArgumentException($"secret over {MaxPlaintextLength} bytes", nameof(plaintext));
        var header = new byte[HeaderLength];
        Magic.CopyTo(header);
        header[8] = contentType;
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(9), kdf.MemoryKiB);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(13), kdf.Passes);
        RandomNumberGenerator.Fill(header.AsSpan(17, SaltLength + XChaCha20Poly1305Aead.NonceLength));
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(HeaderLength - 4), plaintext.Length);
        var key = DeriveKey(passphrase, header.AsSpan(17, SaltLength), kdf);
        try
        {
            var sealedBytes = XChaCha20Poly1305Aead.Seal(key, header.AsSpan(17 + SaltLength, XChaCha20Poly1305Aead.NonceLength), header, plaintext);
            return [.. header, .. sealedBytes];
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Reads the content type and KDF parameters without decrypting.</summary>
    /// <exception cref="TrustFormatException">Not an envelope, or out-of-bounds parameters.</exception>
    public static (byte ContentType, KdfParameters Kdf) ReadHeader(ReadOnlySpan<byte> bytes)
    {
        if (!IsEnvelope(bytes)) throw new TrustFormatException("not an encrypted Kontinuum file (magic KPSEAL01 missing)");
        if (bytes.Length < HeaderLength + XChaCha20Poly1305Aead.TagLength) throw new TrustFormatException($"encrypted file is truncated ({bytes.Length} bytes)");
        var kdf = new KdfParameters(BinaryPrimitives.ReadInt32BigEndian(bytes[9..]), BinaryPrimitives.ReadInt32BigEndian(bytes[13..]));
        if (kdf.MemoryKiB is < KdfParameters.MinMemoryKiB or > KdfParameters.MaxMemoryKiB || kdf.Passes is < 1 or > KdfParameters.MaxPasses)
            throw new TrustFormatException($"encrypted file asks for out-of-bounds Argon2id parameters ({kdf})");
        var length = BinaryPrimitives.ReadInt32BigEndian(bytes[(HeaderLength - 4)..]);
        if (length is < 0 or > MaxPlaintextLength || bytes.Length != HeaderLength + length + XChaCha20Poly1305Aead.TagLength)
            throw new TrustFormatException($"encrypted file length {bytes.Length} does not match its stated content length {length}");
        return (bytes[8], kdf);
    }

    /// <summary>Opens an envelope.</summary>
    /// <exception cref="TrustFormatException">Malformed file.</exception>
    /// <exception cref="CryptographicException">Wrong passphrase or altered file (nothing is decrypted).</exception>
    public static byte[] Open(ReadOnlySpan<byte> bytes, string passphrase, out byte contentType)
    {
        ArgumentNullException.ThrowIfNull(passphrase);
        (contentType, var kdf) = ReadHeader(bytes);
        var header = bytes[..HeaderLength];
        var key = DeriveKey(passphrase, header.Slice(17, SaltLength), kdf);
        try
        {
            if (!XChaCha20Poly1305Aead.TryOpen(key, header.Slice(17 + SaltLength, XChaCha20Poly1305Aead.NonceLength), header, bytes[HeaderLength..], out var plaintext))
                throw new CryptographicException("wrong passphrase, or the encrypted file was altered");
            return plaintext!;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    private static byte[] DeriveKey(string passphrase, ReadOnlySpan<byte> salt, KdfParameters kdf)
    {
        var argon = PasswordBasedKeyDerivationAlgorithm.Argon2id(new Argon2Parameters
        {
            DegreeOfParallelism = 1,
            MemorySize = kdf.MemoryKiB,
            NumberOfPasses = kdf.Passes,
        });
        var password = System.Text.Encoding.UTF8.GetBytes(passphrase);
        try
        {
            return argon.DeriveBytes(password, salt, XChaCha20Poly1305Aead.KeyLength);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(password);
        }
    }
}
