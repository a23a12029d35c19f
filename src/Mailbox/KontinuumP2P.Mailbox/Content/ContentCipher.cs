using System.Buffers.Binary;
using System.Security.Cryptography;
using NSec.Cryptography;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// Encrypts and decrypts the chunks of one content under its fresh key (XChaCha20-Poly1305). Each chunk is sealed
/// alone: the nonce is the chunk index (unique because the key is used for this content only) and the AAD binds the
/// version, the content size, the chunk size and count, and the index, so a chunk moved to another place, another
/// content shape or another content does not open. Sealing is deterministic, so a sender can re-derive any chunk and a
/// receiver can re-check plaintext it already wrote (resuming needs no separate state).
/// </summary>
public sealed class ContentCipher : IDisposable
{
    /// <summary>Key length.</summary>
    public const int KeyLength = 32;

    /// <summary>Tag bytes per chunk.</summary>
    public const int TagLength = 16;

    private const int NonceLength = 24;
    private static readonly AeadAlgorithm Aead = AeadAlgorithm.XChaCha20Poly1305;
    private static ReadOnlySpan<byte> Label => "kontinuum/content/v1"u8;
    private readonly Key _key;
    // The same key for the keystream-only open of verified chunks (libsodium takes it raw); pinned, zeroed at Dispose.
    private readonly byte[] _rawKey;
    private readonly long _size;
    private readonly int _chunkSize;
    private readonly int _chunkCount;
    private int _tagPassed;
    private long _keystreamOpens;

    /// <summary>
    /// Creates the cipher of a content of the given shape. The key is imported into NSec once; a pinned copy serves the
    /// keystream-only open of verified chunks and is zeroed at <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A key that is not 32 bytes.</exception>
    public ContentCipher(ReadOnlySpan<byte> key, long size, int chunkSize, int chunkCount)
    {
        if (key.Length != KeyLength) throw new ArgumentException($"a content key is {KeyLength} bytes", nameof(key));
        _key = Key.Import(Aead, key, KeyBlobFormat.RawSymmetricKey);
        _rawKey = GC.AllocateArray<byte>(KeyLength, pinned: true);
        key.CopyTo(_rawKey);
        _size = size;
        _chunkSize = chunkSize;
        _chunkCount = chunkCount;
    }

    /// <summary>Counts the chunks this cipher seals, when set (a client's count of encryption passes).</summary>
    internal SealCounter? Counter { get; init; }

    /// <summary>A fresh random key.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(KeyLength);

    /// <summary>Seals chunk <paramref name="index"/> into <paramref name="ciphertext"/> (plaintext length + 16).</summary>
    public void Encrypt(int index, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        Span<byte> aad = stackalloc byte[Label.Length + 20];
        Bind(index, nonce, aad);
        Aead.Encrypt(_key, nonce, aad, plaintext, ciphertext);
        Counter?.Add();
    }

    /// <summary>Opens chunk <paramref name="index"/>; false if it fails authentication (wrong key, index or bytes).</summary>
    public bool TryDecrypt(int index, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        if (ciphertext.Length != plaintext.Length + TagLength) return false;
        Span<byte> nonce = stackalloc byte[NonceLength];
        Span<byte> aad = stackalloc byte[Label.Length + 20];
        Bind(index, nonce, aad);
        return Aead.Decrypt(_key, nonce, aad, ciphertext, plaintext);
    }

    /// <summary>
    /// Opens chunk <paramref name="index"/> where it lies: the plaintext replaces the first <c>Length - 16</c> bytes of
    /// <paramref name="chunk"/>. False (and the bytes undefined) if it fails authentication.
    /// </summary>
    internal bool TryDecryptInPlace(int index, Span<byte> chunk)
    {
        if (chunk.Length < TagLength) return false;
        Span<byte> nonce = stackalloc byte[NonceLength];
        Span<byte> aad = stackalloc byte[Label.Length + 20];
        Bind(index, nonce, aad);
        return Aead.Decrypt(_key, nonce, aad, chunk, chunk[..^TagLength]);
    }

    /// <summary>
    /// Opens in place a chunk whose ciphertext already matched its BLAKE3 entry in the manifest. The manifest hashes to
    /// the content id, which rides in the sealed reference next to this key, so such a chunk is exactly what the
    /// sender sealed and its tag cannot fail under the sender's key: chunks check their tag until one has passed with
    /// this key (so a reference with a wrong key is still refused, and no chunk is opened by the keystream of a key
    /// not yet shown right), the others are XORed with the XChaCha20 keystream alone, which saves the Poly1305 pass
    /// (about half of an open). False (bytes undefined) if the checked tag fails. Never for ciphertext that was not
    /// verified against the manifest first.
    /// </summary>
    internal bool TryOpenVerifiedInPlace(int index, Span<byte> chunk)
    {
        if (chunk.Length < TagLength) return false;
        if (Volatile.Read(ref _tagPassed) == 0)
        {
            if (!TryDecryptInPlace(index, chunk)) return false;
            Volatile.Write(ref _tagPassed, 1);
            return true;
        }
        Span<byte> nonce = stackalloc byte[NonceLength];
        BindNonce(index, nonce);
        XChaCha20Keystream.XorInPlace(_rawKey, nonce, chunk[..^TagLength]);
        Interlocked.Increment(ref _keystreamOpens);
        return true;
    }

    /// <summary>Chunks opened by the keystream alone (their tag not computed), for tests.</summary>
    internal long KeystreamOpens => Interlocked.Read(ref _keystreamOpens);

    private void BindNonce(int index, Span<byte> nonce)
    {
        if ((uint)index >= (uint)_chunkCount) throw new ArgumentOutOfRangeException(nameof(index), index, $"chunk index must be below {_chunkCount}");
        nonce.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce, (ulong)index);
    }

    private void Bind(int index, Span<byte> nonce, Span<byte> aad)
    {
        BindNonce(index, nonce);
        Label.CopyTo(aad);
        var rest = aad[Label.Length..];
        BinaryPrimitives.WriteInt64LittleEndian(rest, _size);
        BinaryPrimitives.WriteInt32LittleEndian(rest[8..], _chunkSize);
        BinaryPrimitives.WriteInt32LittleEndian(rest[12..], _chunkCount);
        BinaryPrimitives.WriteInt32LittleEndian(rest[16..], index);
    }

    /// <summary>Releases the key.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_rawKey);
        _key.Dispose();
    }
}

/// <summary>Chunks sealed through the ciphers that share this counter.</summary>
internal sealed class SealCounter
{
    private long _chunks;

    public long Chunks => Interlocked.Read(ref _chunks);

    public void Add() => Interlocked.Increment(ref _chunks);
}
