using System.Buffers.Binary;
using KontinuumP2P.Archive.Crypto;

namespace KontinuumP2P.Archive.Packs;

/// <summary>
/// Collects blobs into one pack. The same blobs in the same order under the same keys always give the same bytes (and
/// so the same pack id), which is what makes a rebuilt pack after a crash an idempotent re-upload.
/// </summary>
public sealed class PackBuilder
{
    private readonly ArchiveKeys _keys;
    private readonly List<PackEntry> _entries = [];
    private byte[] _buffer;
    private long _length;
    // The pack id is hashed while the pack is built: each full slice behind the write position is hashed right after
    // its blobs were copied in (still in cache), so Build only hashes the tail, the sealed header and the trailer.
    // A field, not readonly: the package's Hasher may be a mutable struct.
    private global::Blake3.Hasher _hasher = global::Blake3.Hasher.New();
    private long _hashed;
    private bool _built;
    private const int HashSlice = 1 << 20;

    /// <summary>Starts an empty pack sealed under these keys.</summary>
    public PackBuilder(ArchiveKeys keys, int initialCapacity = 1 << 20)
    {
        _keys = keys ?? throw new ArgumentNullException(nameof(keys));
        _buffer = new byte[Math.Max(initialCapacity, 1024)];
    }

    /// <summary>Blobs added so far.</summary>
    public int Count => _entries.Count;

    /// <summary>Bytes of blob data added so far.</summary>
    public long BlobBytes => _length;

    /// <summary>The highest cursor added, or null when empty.</summary>
    public ulong? LastCursor => _entries.Count == 0 ? null : _entries[^1].Cursor;

    /// <summary>The pack size after one more blob of this length, header and trailer included.</summary>
    public long SizeWith(int blobLength) =>
        _length + blobLength + PackFormat.SealedHeaderLength(_entries.Count + 1) + PackFormat.TrailerLength;

    /// <summary>Adds a blob.</summary>
    /// <exception cref="ArgumentException">Bad id length, blob too large, cursor not after the last one, or pack full.</exception>
    public void Add(ReadOnlySpan<byte> blobId, ulong cursor, ReadOnlySpan<byte> blob)
    {
        if (_built) throw new InvalidOperationException("the pack was already built");
        if (blobId.Length != Hashing.DigestLength) throw new ArgumentException($"a blob id is 32 bytes, got {blobId.Length}", nameof(blobId));
        if (blob.Length > PackFormat.MaxBlobBytes) throw new ArgumentException($"blob of {blob.Length} bytes exceeds {PackFormat.MaxBlobBytes}", nameof(blob));
        if (_entries.Count > 0 && cursor <= _entries[^1].Cursor) throw new ArgumentException($"cursor {cursor} is not after {_entries[^1].Cursor}", nameof(cursor));
        if (_entries.Count >= PackFormat.MaxBlobs) throw new ArgumentException($"a pack holds at most {PackFormat.MaxBlobs} blobs", nameof(blob));
        if (SizeWith(blob.Length) > PackFormat.MaxPackBytes) throw new ArgumentException($"a pack is at most {PackFormat.MaxPackBytes} bytes", nameof(blob));
        EnsureCapacity(_length + blob.Length);
        blob.CopyTo(_buffer.AsSpan((int)_length));
        _entries.Add(new PackEntry(blobId.ToArray(), cursor, _length, blob.Length));
        _length += blob.Length;
        while (_length - _hashed >= HashSlice)
        {
            _hasher.Update(_buffer.AsSpan((int)_hashed, HashSlice));
            _hashed += HashSlice;
        }
    }

    /// <summary>The exact size of a pack of blobs of these lengths (size the builder with it and <see cref="Build"/> copies nothing).</summary>
    internal static long ExactSize(IEnumerable<int> blobLengths)
    {
        ArgumentNullException.ThrowIfNull(blobLengths);
        long bytes = 0;
        var count = 0;
        foreach (var length in blobLengths)
        {
            bytes += length;
            count++;
        }
        return bytes + PackFormat.SealedHeaderLength(count) + PackFormat.TrailerLength;
    }

    /// <summary>Seals the header and returns the finished pack. The builder can then be discarded.</summary>
    public Pack Build()
    {
        if (_built) throw new InvalidOperationException("the pack was already built");
        if (_entries.Count == 0) throw new InvalidOperationException("an empty pack is never written");
        var header = new byte[PackFormat.HeaderFixedLength + _entries.Count * PackFormat.EntryLength];
        header[0] = PackFormat.Version;
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(1), (uint)_entries.Count);
        var at = PackFormat.HeaderFixedLength;
        foreach (var e in _entries)
        {
            e.BlobId.Span.CopyTo(header.AsSpan(at));
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(at + 32), e.Cursor);
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(at + 40), (ulong)e.Offset);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(at + 48), (uint)e.Length);
            at += PackFormat.EntryLength;
        }
        var sealedLength = SyntheticAead.Overhead + header.Length;
        var total = _length + sealedLength + PackFormat.TrailerLength;
        // Sized exactly up front (the pusher knows its blobs), the buffer becomes the pack: no second copy of the blobs.
        var bytes = _buffer.Length == total ? _buffer : new byte[total];
        if (!ReferenceEquals(bytes, _buffer)) _buffer.AsSpan(0, (int)_length).CopyTo(bytes);
        SyntheticAead.Seal(_keys.PackKey, PackFormat.AssociatedData, header, bytes.AsSpan((int)_length, sealedLength));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)(total - PackFormat.TrailerLength)), (uint)sealedLength);
        _buffer = [];
        _built = true;
        // Blobs not yet hashed, the sealed header and the trailer: one contiguous tail.
        _hasher.Update(bytes.AsSpan((int)_hashed));
        var digest = new byte[Hashing.DigestLength];
        _hasher.Finalize(digest);
        _hasher.Dispose();
        return new Pack(ArchiveObjectId.Pack(digest), bytes, [.. _entries]);
    }

    private void EnsureCapacity(long needed)
    {
        if (needed <= _buffer.Length) return;
        var size = (long)_buffer.Length;
        while (size < needed) size *= 2;
        Array.Resize(ref _buffer, (int)Math.Min(size, PackFormat.MaxPackBytes));
    }
}

/// <summary>A finished pack: its id (BLAKE3 of <paramref name="Bytes"/>), bytes and entries.</summary>
/// <param name="Id">The pack id.</param>
/// <param name="Bytes">The whole pack.</param>
/// <param name="Entries">The blobs it holds, in cursor order.</param>
public sealed record Pack(ArchiveObjectId Id, byte[] Bytes, IReadOnlyList<PackEntry> Entries);
