using System.Buffers.Binary;
using KontinuumP2P.Archive.Crypto;

namespace KontinuumP2P.Archive.Packs;

/// <summary>Opens packs written by <see cref="PackBuilder"/>; every length is checked before anything is allocated.</summary>
public static class PackReader
{
    /// <summary>Checks that the pack's BLAKE3 is its id (what verify does, and what needs no key).</summary>
    public static bool HasId(ReadOnlySpan<byte> pack, ArchiveObjectId expected) =>
        expected.Kind == ArchiveObjectKind.Pack && Hashing.Blake3Matches(pack, expected.Digest);

    /// <summary>Decrypts and validates the header; returns the entries in cursor order.</summary>
    /// <exception cref="PackFormatException">Truncated, inconsistent, too large, or sealed under another key.</exception>
    public static IReadOnlyList<PackEntry> ReadHeader(ReadOnlySpan<byte> pack, ArchiveKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (pack.Length > PackFormat.MaxPackBytes) throw new PackFormatException($"pack of {pack.Length} bytes exceeds the {PackFormat.MaxPackBytes}-byte limit");
        if (pack.Length < PackFormat.TrailerLength + PackFormat.SealedHeaderLength(1))
            throw new PackFormatException($"pack of {pack.Length} bytes is too short to hold a header (truncated?)");
        var sealedLength = BinaryPrimitives.ReadUInt32LittleEndian(pack[^PackFormat.TrailerLength..]);
        var blobArea = (long)pack.Length - PackFormat.TrailerLength - sealedLength;
        if (sealedLength < PackFormat.SealedHeaderLength(1) || sealedLength > PackFormat.SealedHeaderLength(PackFormat.MaxBlobs) || blobArea < 0)
            throw new PackFormatException($"header length {sealedLength} does not fit a pack of {pack.Length} bytes (truncated or corrupted)");
        if ((sealedLength - PackFormat.SealedHeaderLength(0)) % PackFormat.EntryLength != 0)
            throw new PackFormatException($"header length {sealedLength} is not a whole number of entries");
        var sealedBox = pack.Slice((int)blobArea, (int)sealedLength);
        if (!SyntheticAead.TryOpen(keys.PackKey, PackFormat.AssociatedData, sealedBox, out var header))
            throw new PackFormatException("pack header failed authentication: corrupted, truncated, or sealed under another archive key");
        if (header[0] != PackFormat.Version) throw new PackFormatException($"pack format version {header[0]} is not supported (expected {PackFormat.Version})");
        var count = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(1));
        if (count == 0 || PackFormat.HeaderFixedLength + (long)count * PackFormat.EntryLength != header.Length)
            throw new PackFormatException($"header says {count} blobs but holds {(header.Length - PackFormat.HeaderFixedLength) / PackFormat.EntryLength}");
        var entries = new PackEntry[count];
        long expectedOffset = 0;
        for (var i = 0; i < count; i++)
        {
            var e = header.AsSpan(PackFormat.HeaderFixedLength + i * PackFormat.EntryLength, PackFormat.EntryLength);
            var cursor = BinaryPrimitives.ReadUInt64LittleEndian(e[32..]);
            var offset = BinaryPrimitives.ReadUInt64LittleEndian(e[40..]);
            var length = BinaryPrimitives.ReadUInt32LittleEndian(e[48..]);
            if (offset != (ulong)expectedOffset || length > PackFormat.MaxBlobBytes || expectedOffset + length > blobArea)
                throw new PackFormatException($"entry {i} (offset {offset}, length {length}) is outside the blob area or not contiguous");
            if (i > 0 && cursor <= entries[i - 1].Cursor) throw new PackFormatException($"entry {i} cursor {cursor} does not increase");
            entries[i] = new PackEntry(e[..32].ToArray(), cursor, expectedOffset, (int)length);
            expectedOffset += length;
        }
        if (expectedOffset != blobArea) throw new PackFormatException($"blobs end at {expectedOffset} but the header starts at {blobArea}");
        return entries;
    }

    /// <summary>Opens a pack: checks its id, the header, and each blob's BLAKE3 against its blob id.</summary>
    /// <exception cref="PackFormatException">The pack is not the one named, or is malformed.</exception>
    public static IReadOnlyList<PackEntry> Open(ReadOnlySpan<byte> pack, ArchiveObjectId id, ArchiveKeys keys)
    {
        if (!HasId(pack, id)) throw new PackFormatException($"pack bytes do not hash to {id} (corrupted or substituted)");
        return OpenBlobs(pack, keys);
    }

    /// <summary>
    /// Opens a pack in one pass, without the whole-pack hash: the header is authenticated (AEAD under the mailbox's
    /// key), blobs tile the area before it exactly, and each blob is checked against its id, so every byte is covered.
    /// The caller must still check the entries against the manifest that named the pack (restore does), since another
    /// pack of the same mailbox would pass too.
    /// </summary>
    /// <exception cref="PackFormatException">The pack is malformed or a blob does not match its id.</exception>
    public static IReadOnlyList<PackEntry> OpenBlobs(ReadOnlySpan<byte> pack, ArchiveKeys keys)
    {
        var entries = ReadHeader(pack, keys);
        foreach (var e in entries)
        {
            if (!Hashing.Blake3Matches(pack.Slice((int)e.Offset, e.Length), e.BlobId.Span))
                throw new PackFormatException($"blob at cursor {e.Cursor} does not hash to its id");
        }
        return entries;
    }

    /// <summary>
    /// <see cref="OpenBlobs"/> over an array (restore's hot path: one BLAKE3 pass over every byte). Reports the first bad
    /// blob in cursor order.
    /// </summary>
    /// <exception cref="PackFormatException">The pack is malformed or a blob does not match its id.</exception>
    internal static IReadOnlyList<PackEntry> OpenBlobsIn(byte[] pack, ArchiveKeys keys) => OpenBlobsIn(pack, pack.Length, keys);

    /// <summary><see cref="OpenBlobsIn(byte[], ArchiveKeys)"/> over the first <paramref name="length"/> bytes of a (pooled) buffer.</summary>
    internal static IReadOnlyList<PackEntry> OpenBlobsIn(byte[] pack, int length, ArchiveKeys keys)
    {
        var entries = ReadHeader(pack.AsSpan(0, length), keys);
        if (length < Hashing.JoinThreshold || entries.Count < 2)
        {
            foreach (var e in entries)
            {
                if (!Hashing.Blake3Matches(pack.AsSpan((int)e.Offset, e.Length), e.BlobId.Span))
                    throw new PackFormatException($"blob at cursor {e.Cursor} does not hash to its id");
            }
            return entries;
        }
        // Blobs are independent: check them on all cores. The lowest bad index wins, so the error names the first bad
        // blob in cursor order whatever the scheduling.
        var firstBad = int.MaxValue;
        Parallel.For(0, entries.Count, i =>
        {
            var e = entries[i];
            if (Hashing.Blake3Matches(pack.AsSpan((int)e.Offset, e.Length), e.BlobId.Span)) return;
            var seen = Volatile.Read(ref firstBad);
            while (i < seen)
            {
                var was = Interlocked.CompareExchange(ref firstBad, i, seen);
                if (was == seen) break;
                seen = was;
            }
        });
        if (firstBad != int.MaxValue) throw new PackFormatException($"blob at cursor {entries[firstBad].Cursor} does not hash to its id");
        return entries;
    }
}
