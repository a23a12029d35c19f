using System.Buffers.Binary;
using KontinuumP2P.Certs.Hashing;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// The list of chunk hashes a content id commits to. Canonical bytes: <c>version u8 (1) | chunk_size u32 | size u64 |
/// chunk_count u32 | BLAKE3(chunk ciphertext)[32] × chunk_count</c>, little-endian. The content id is BLAKE3 of these
/// bytes, so a receiver that fetched the manifest from anyone checks it against the id, then checks every chunk
/// against its entry as it arrives.
/// </summary>
public sealed class ContentManifest
{
    /// <summary>The only version.</summary>
    public const byte Version = 1;

    /// <summary>Bytes before the hash list.</summary>
    public const int HeaderLength = 1 + 4 + 8 + 4;

    /// <summary>Length of each chunk hash.</summary>
    public const int HashLength = 32;

    private readonly byte[] _bytes;

    private ContentManifest(byte[] bytes, int chunkSize, long size, int chunkCount)
    {
        _bytes = bytes;
        ChunkSize = chunkSize;
        Size = size;
        ChunkCount = chunkCount;
        Id = ContentId.Of(bytes);
    }

    /// <summary>The content id (BLAKE3 of <see cref="Bytes"/>).</summary>
    public ContentId Id { get; }

    /// <summary>Plaintext bytes per chunk (the last may be shorter).</summary>
    public int ChunkSize { get; }

    /// <summary>Plaintext size.</summary>
    public long Size { get; }

    /// <summary>Number of chunks.</summary>
    public int ChunkCount { get; }

    /// <summary>Ciphertext bytes of every chunk together (plaintext plus one tag per chunk).</summary>
    public long CiphertextSize => Size + ((long)ChunkCount * ContentCipher.TagLength);

    /// <summary>The canonical bytes.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>The expected BLAKE3 of chunk <paramref name="index"/>'s ciphertext.</summary>
    public ReadOnlySpan<byte> HashOf(int index) => _bytes.AsSpan(HeaderLength + (index * HashLength), HashLength);

    /// <summary>Plaintext length of chunk <paramref name="index"/>.</summary>
    public int PlaintextLengthOf(int index) => (int)Math.Min(ChunkSize, Size - ((long)index * ChunkSize));

    /// <summary>Ciphertext length of chunk <paramref name="index"/>.</summary>
    public int CiphertextLengthOf(int index) => PlaintextLengthOf(index) + ContentCipher.TagLength;

    /// <summary>True when <paramref name="ciphertext"/> hashes to chunk <paramref name="index"/>'s entry.</summary>
    public bool Verify(int index, ReadOnlySpan<byte> ciphertext)
    {
        if ((uint)index >= (uint)ChunkCount || ciphertext.Length != CiphertextLengthOf(index)) return false;
        Span<byte> hash = stackalloc byte[HashLength];
        Blake3.Hash(ciphertext, hash);
        return hash.SequenceEqual(HashOf(index));
    }

    /// <summary>Builds a manifest from the chunk hashes (concatenated, in index order).</summary>
    /// <exception cref="ContentException">A shape the limits refuse.</exception>
    public static ContentManifest Create(long size, int chunkSize, ReadOnlySpan<byte> hashes, ContentLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (hashes.Length % HashLength != 0) throw new ContentException(ContentErrorCode.BadManifest, "hash list is not whole hashes");
        var count = hashes.Length / HashLength;
        limits.Check(size, chunkSize, count);
        var bytes = new byte[HeaderLength + hashes.Length];
        bytes[0] = Version;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(1), chunkSize);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(5), size);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(13), count);
        hashes.CopyTo(bytes.AsSpan(HeaderLength));
        return new ContentManifest(bytes, chunkSize, size, count);
    }

    /// <summary>Parses canonical bytes, checking shape and limits (length is checked before anything is copied).</summary>
    /// <exception cref="ContentException">Malformed (<see cref="ContentErrorCode.BadManifest"/>) or over a limit.</exception>
    public static ContentManifest Parse(ReadOnlySpan<byte> bytes, ContentLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (bytes.Length < HeaderLength || bytes.Length > HeaderLength + ((long)ContentLimits.MaxChunkCount * HashLength))
            throw new ContentException(ContentErrorCode.BadManifest, $"a manifest of {bytes.Length} bytes is out of bounds");
        if (bytes[0] != Version) throw new ContentException(ContentErrorCode.BadManifest, $"manifest version {bytes[0]} is not supported");
        var chunkSize = BinaryPrimitives.ReadInt32LittleEndian(bytes[1..]);
        var size = BinaryPrimitives.ReadInt64LittleEndian(bytes[5..]);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(bytes[13..]);
        if (bytes.Length != HeaderLength + ((long)count * HashLength))
            throw new ContentException(ContentErrorCode.BadManifest, $"manifest declares {count} chunks but holds {(bytes.Length - HeaderLength) / HashLength}");
        limits.Check(size, chunkSize, count);
        return new ContentManifest(bytes.ToArray(), chunkSize, size, (int)count);
    }

    /// <summary>Parses and checks the bytes hash to <paramref name="expected"/>.</summary>
    /// <exception cref="ContentException">As <see cref="Parse(ReadOnlySpan{byte}, ContentLimits)"/>, or another id.</exception>
    public static ContentManifest Parse(ReadOnlySpan<byte> bytes, ContentId expected, ContentLimits limits)
    {
        var manifest = Parse(bytes, limits);
        if (manifest.Id != expected) throw new ContentException(ContentErrorCode.BadManifest, "the manifest does not hash to the content id");
        return manifest;
    }
}
