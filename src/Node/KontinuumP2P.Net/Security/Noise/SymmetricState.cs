using System.Security.Cryptography;
using NSec.Cryptography;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>
/// Noise SymmetricState with SHA-256: chaining key, handshake hash and the handshake CipherState. HKDF(ck, ikm) is
/// RFC 5869 HKDF-SHA256 (salt = ck, info = ∅, 64 bytes; see <see cref="NoiseHkdf"/>).
/// </summary>
internal sealed class SymmetricState : IDisposable
{
    /// <summary>SHA-256 output length.</summary>
    public const int HashSize = 32;

    private readonly byte[] _ck = new byte[HashSize];
    private readonly byte[] _h = new byte[HashSize];
    private readonly System.Security.Cryptography.IncrementalHash _hash = System.Security.Cryptography.IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly CipherState _cipher = new();

    /// <summary>InitializeSymmetric(protocol name): h = name padded to 32 bytes, or its hash when longer; ck = h.</summary>
    public SymmetricState(ReadOnlySpan<byte> protocolName)
    {
        if (protocolName.Length <= HashSize) protocolName.CopyTo(_h);
        else SHA256.HashData(protocolName, _h);
        _h.CopyTo(_ck, 0);
    }

    /// <summary>The current handshake hash h (the channel binding after the last message).</summary>
    public ReadOnlySpan<byte> HandshakeHash => _h;

    /// <summary>Whether the handshake CipherState has a key yet.</summary>
    public bool HasKey => _cipher.HasKey;

    /// <summary>h = SHA-256(h ‖ data).</summary>
    public void MixHash(ReadOnlySpan<byte> data)
    {
        _hash.AppendData(_h);
        _hash.AppendData(data);
        _hash.GetHashAndReset(_h);
    }

    /// <summary>MixKey with a DH output: (ck, k) = HKDF(ck, dh); the handshake cipher gets k.</summary>
    public void MixKey(SharedSecret dh)
    {
        Span<byte> output = stackalloc byte[2 * HashSize];
        NoiseHkdf.Derive(_ck, dh, ReadOnlySpan<byte>.Empty, output);
        ApplyMixKey(output);
    }

    /// <summary>MixKey with raw input key material (used by tests and by Noise patterns with PSKs; not by XX).</summary>
    public void MixKey(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> output = stackalloc byte[2 * HashSize];
        NoiseHkdf.Derive(_ck, inputKeyMaterial, ReadOnlySpan<byte>.Empty, output);
        ApplyMixKey(output);
    }

    /// <summary>Ciphertext length EncryptAndHash produces for a plaintext.</summary>
    public int CiphertextLength(int plaintextLength) => _cipher.CiphertextLength(plaintextLength);

    /// <summary>Encrypts with AD = h, then MixHash(ciphertext). Returns the bytes written.</summary>
    public int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        var written = _cipher.EncryptWithAd(_h, plaintext, ciphertext);
        MixHash(ciphertext[..written]);
        return written;
    }

    /// <summary>Decrypts with AD = h, then MixHash(ciphertext); false when authentication fails.</summary>
    public bool TryDecryptAndHash(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, out int written)
    {
        if (!_cipher.TryDecryptWithAd(_h, ciphertext, plaintext, out written)) return false;
        MixHash(ciphertext);
        return true;
    }

    /// <summary>Split(): (k1, k2) = HKDF(ck, ∅); returns two fresh CipherStates.</summary>
    public (CipherState First, CipherState Second) Split()
    {
        Span<byte> output = stackalloc byte[2 * HashSize];
        NoiseHkdf.Derive(_ck, ReadOnlySpan<byte>.Empty, ReadOnlySpan<byte>.Empty, output);
        var first = new CipherState();
        var second = new CipherState();
        first.InitializeKey(output[..CipherState.KeySize]);
        second.InitializeKey(output.Slice(HashSize, CipherState.KeySize));
        CryptographicOperations.ZeroMemory(output);
        return (first, second);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_ck);
        _hash.Dispose();
        _cipher.Dispose();
    }

    private void ApplyMixKey(Span<byte> output)
    {
        output[..HashSize].CopyTo(_ck);
        _cipher.InitializeKey(output.Slice(HashSize, CipherState.KeySize));
        CryptographicOperations.ZeroMemory(output);
    }
}
