using System.Security.Cryptography;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>
/// One keyed ChaCha20-Poly1305 (IETF, 12-byte nonce, 16-byte tag) instance: the AEAD primitive under
/// <see cref="CipherState"/>. It is the BCL implementation (OpenSSL on Linux), measured about 3x faster here than
/// NSec's libsodium one at 64 KiB messages (see the <c>aead</c> bench); keyed once, reused for every message.
/// </summary>
internal sealed class ChaChaPolyKey : IDisposable
{
    /// <summary>Key length.</summary>
    public const int KeySize = 32;

    /// <summary>Nonce length.</summary>
    public const int NonceSize = 12;

    /// <summary>Tag length.</summary>
    public const int TagSize = 16;

    private readonly ChaCha20Poly1305 _aead;

    /// <summary>Keys the cipher.</summary>
    public ChaChaPolyKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize) throw new ArgumentException("a ChaCha20-Poly1305 key is 32 bytes", nameof(key));
        _aead = new ChaCha20Poly1305(key);
    }

    /// <summary>
    /// Seals <paramref name="plaintext"/> into <paramref name="ciphertext"/> = ciphertext ‖ tag. In place (same start) is
    /// allowed; any other overlap is not.
    /// </summary>
    public void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        if (nonce.Length != NonceSize) throw new ArgumentException("the nonce is 12 bytes", nameof(nonce));
        if (ciphertext.Length < plaintext.Length + TagSize) throw new ArgumentException("ciphertext buffer too small", nameof(ciphertext));
        _aead.Encrypt(nonce, plaintext, ciphertext[..plaintext.Length], ciphertext.Slice(plaintext.Length, TagSize), associatedData);
    }

    /// <summary>
    /// Opens ciphertext ‖ tag into <paramref name="plaintext"/>; false when the input is shorter than a tag or does not
    /// authenticate. In place is allowed.
    /// </summary>
    public bool TryOpen(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        if (nonce.Length != NonceSize) throw new ArgumentException("the nonce is 12 bytes", nameof(nonce));
        if (ciphertext.Length < TagSize) return false;
        var length = ciphertext.Length - TagSize;
        if (plaintext.Length < length) throw new ArgumentException("plaintext buffer too small", nameof(plaintext));
        try
        {
            _aead.Decrypt(nonce, ciphertext[..length], ciphertext[length..], plaintext[..length], associatedData);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _aead.Dispose();
}
