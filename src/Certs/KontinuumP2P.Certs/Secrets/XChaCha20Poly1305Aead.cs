using NSec.Cryptography;

namespace KontinuumP2P.Certs.Secrets;

/// <summary>XChaCha20-Poly1305 (libsodium through NSec) with explicit size checks; the AEAD of every encrypted file here.</summary>
internal static class XChaCha20Poly1305Aead
{
    public const int KeyLength = 32;
    public const int NonceLength = 24;
    public const int TagLength = 16;
    private static readonly AeadAlgorithm Algorithm = AeadAlgorithm.XChaCha20Poly1305;

    /// <summary>Encrypts; returns ciphertext followed by the 16-byte tag.</summary>
    public static byte[] Seal(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext)
    {
        if (key.Length != KeyLength) throw new ArgumentException($"key must be {KeyLength} bytes", nameof(key));
        if (nonce.Length != NonceLength) throw new ArgumentException($"nonce must be {NonceLength} bytes", nameof(nonce));
        using var k = Key.Import(Algorithm, key, KeyBlobFormat.RawSymmetricKey);
        return Algorithm.Encrypt(k, nonce, associatedData, plaintext);
    }

    /// <summary>Decrypts and authenticates; false (and no plaintext) on any mismatch or wrong size.</summary>
    public static bool TryOpen(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData,
        ReadOnlySpan<byte> ciphertextAndTag, out byte[]? plaintext)
    {
        plaintext = null;
        if (key.Length != KeyLength || nonce.Length != NonceLength || ciphertextAndTag.Length < TagLength) return false;
        using var k = Key.Import(Algorithm, key, KeyBlobFormat.RawSymmetricKey);
        var buffer = new byte[ciphertextAndTag.Length - TagLength];
        if (!Algorithm.Decrypt(k, nonce, associatedData, ciphertextAndTag, buffer)) return false;
        plaintext = buffer;
        return true;
    }
}
