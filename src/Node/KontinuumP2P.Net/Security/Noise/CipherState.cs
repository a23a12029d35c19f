using System.Buffers.Binary;
using System.Security.Cryptography;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>
/// Noise CipherState for ChaChaPoly: a key (absent until the first MixKey) and a 64-bit nonce counter; the nonce is
/// 4 zero bytes ‖ the counter little-endian. The cipher is keyed once per key (<see cref="ChaChaPolyKey"/>). Without a
/// key, encryption is the identity, as the Noise spec requires. Not thread-safe: one user at a time.
/// </summary>
internal sealed class CipherState : IDisposable
{
    /// <summary>Poly1305 tag length.</summary>
    public const int TagSize = ChaChaPolyKey.TagSize;

    /// <summary>ChaCha20 key length.</summary>
    public const int KeySize = ChaChaPolyKey.KeySize;

    // 2^64-1 is reserved by the Noise spec; reaching it means the session must end.
    private const ulong ReservedNonce = ulong.MaxValue;

    private ChaChaPolyKey? _key;
    private ulong _nonce;

    /// <summary>Whether a key has been set (encryption is the identity until then).</summary>
    public bool HasKey => _key is not null;

    /// <summary>The nonce the next operation will use.</summary>
    public ulong Nonce => _nonce;

    /// <summary>Sets a new key and resets the nonce to zero.</summary>
    public void InitializeKey(ReadOnlySpan<byte> key)
    {
        var next = new ChaChaPolyKey(key);
        _key?.Dispose();
        _key = next;
        _nonce = 0;
    }

    /// <summary>Noise's SetNonce (test seam for vectors whose nonce is not reached by counting).</summary>
    public void SetNonce(ulong nonce) => _nonce = nonce;

    /// <summary>Length of the ciphertext for a plaintext of <paramref name="plaintextLength"/> bytes.</summary>
    public int CiphertextLength(int plaintextLength) => HasKey ? plaintextLength + TagSize : plaintextLength;

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> into <paramref name="ciphertext"/> (ciphertext ‖ tag). The two may be the
    /// same memory (in place) but must not otherwise overlap. Returns the bytes written.
    /// </summary>
    /// <exception cref="CryptographicException">The nonce space is exhausted.</exception>
    public int EncryptWithAd(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        if (_key is null)
        {
            plaintext.CopyTo(ciphertext);
            return plaintext.Length;
        }
        Span<byte> nonce = stackalloc byte[ChaChaPolyKey.NonceSize];
        WriteNonce(nonce);
        _key.Seal(nonce, associatedData, plaintext, ciphertext);
        _nonce++;
        return plaintext.Length + TagSize;
    }

    /// <summary>
    /// Decrypts <paramref name="ciphertext"/> (ciphertext ‖ tag) into <paramref name="plaintext"/>; false when it does not
    /// authenticate (the nonce is then not consumed). In place is allowed.
    /// </summary>
    /// <exception cref="CryptographicException">The nonce space is exhausted.</exception>
    public bool TryDecryptWithAd(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, out int written)
    {
        if (_key is null)
        {
            ciphertext.CopyTo(plaintext);
            written = ciphertext.Length;
            return true;
        }
        written = 0;
        Span<byte> nonce = stackalloc byte[ChaChaPolyKey.NonceSize];
        WriteNonce(nonce);
        if (!_key.TryOpen(nonce, associatedData, ciphertext, plaintext)) return false;
        _nonce++;
        written = ciphertext.Length - TagSize;
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _key?.Dispose();
        _key = null;
    }

    private void WriteNonce(Span<byte> nonce)
    {
        if (_nonce == ReservedNonce) throw new CryptographicException("Noise nonce space exhausted");
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], _nonce);
    }
}
