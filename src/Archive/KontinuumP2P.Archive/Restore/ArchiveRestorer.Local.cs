using System.Buffers;
using System.Buffers.Binary;
using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Manifests;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Sinks;
using Microsoft.Win32.SafeHandles;

namespace KontinuumP2P.Archive.Restore;

public static partial class ArchiveRestorer
{
    /// <summary>
    /// A pack from a local sink, verified while it streams in: the sealed header is read first (the tail), authenticated
    /// and matched against the manifest; then the blob area is read front to back in <see cref="DirectorySink.ReadChunkBytes"/>
    /// chunks, each blob hashed on this thread as soon as its last byte is in while the next chunk is already being read.
    /// One pass over every byte, no second thread per pack (the packs fetched ahead keep the other cores busy).
    /// Null when the sink lacks the pack or holds a copy that is not the one named.
    /// </summary>
    private static async Task<FetchedPack?> ReadLocalAsync(ILocalSink local, Manifest manifest, ArchiveKeys keys, CancellationToken cancellationToken)
    {
        using var handle = local.OpenRead(manifest.PackId);
        if (handle is null) return null;
        var length = RandomAccess.GetLength(handle);
        if (length > PackFormat.MaxPackBytes) throw SinkChecks.TooLarge(manifest.PackId, length, PackFormat.MaxPackBytes);
        if (length < PackFormat.TrailerLength + PackFormat.SealedHeaderLength(1)) return null;
        var buffer = ArrayPool<byte>.Shared.Rent((int)length);
        var fetched = new FetchedPack(buffer, [], Pooled: true);
        try
        {
            // The header's length is the last 4 bytes; bounded by the entry limit before anything is read into place.
            await ReadFullyAsync(handle, buffer.AsMemory((int)length - PackFormat.TrailerLength, PackFormat.TrailerLength), length - PackFormat.TrailerLength, cancellationToken)
                .ConfigureAwait(false);
            var sealedLength = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan((int)length - PackFormat.TrailerLength));
            if (sealedLength > PackFormat.SealedHeaderLength(PackFormat.MaxBlobs) || sealedLength > length - PackFormat.TrailerLength)
            {
                fetched.Release();
                return null;
            }
            var blobArea = (int)(length - PackFormat.TrailerLength - sealedLength);
            await ReadFullyAsync(handle, buffer.AsMemory(blobArea, (int)sealedLength), blobArea, cancellationToken).ConfigureAwait(false);
            var entries = PackReader.ReadHeader(buffer.AsSpan(0, (int)length), keys);
            if (!Matches(entries, manifest))
            {
                fetched.Release();
                return null;
            }
            var next = 0;
            var filled = 0;
            var reading = ReadChunkAsync(handle, buffer, 0, blobArea, cancellationToken);
            while (filled < blobArea)
            {
                var end = filled + await reading.ConfigureAwait(false);
                reading = end < blobArea ? ReadChunkAsync(handle, buffer, end, blobArea, cancellationToken) : Task.FromResult(0);
                filled = end;
                for (; next < entries.Count && entries[next].Offset + entries[next].Length <= filled; next++)
                {
                    var e = entries[next];
                    if (!Hashing.Blake3Matches(buffer.AsSpan((int)e.Offset, e.Length), e.BlobId.Span))
                    {
                        await reading.ConfigureAwait(false);
                        fetched.Release();
                        return null;
                    }
                }
            }
            // Empty blobs at the end (or a pack of empty blobs) were never reached by a read: their ids are checked too.
            for (; next < entries.Count; next++)
            {
                var e = entries[next];
                if (!Hashing.Blake3Matches(buffer.AsSpan((int)e.Offset, e.Length), e.BlobId.Span))
                {
                    fetched.Release();
                    return null;
                }
            }
            return fetched with { Entries = entries };
        }
        catch (PackFormatException)
        {
            // Corrupt copy (bad header, or the file shrank): the caller tries the next sink.
            fetched.Release();
            return null;
        }
        catch
        {
            fetched.Release();
            throw;
        }
    }

    private static async Task<int> ReadChunkAsync(SafeFileHandle handle, byte[] buffer, int offset, int end, CancellationToken cancellationToken)
    {
        var count = Math.Min(DirectorySink.ReadChunkBytes, end - offset);
        await ReadFullyAsync(handle, buffer.AsMemory(offset, count), offset, cancellationToken).ConfigureAwait(false);
        return count;
    }

    private static async Task ReadFullyAsync(SafeFileHandle handle, Memory<byte> destination, long offset, CancellationToken cancellationToken)
    {
        var done = 0;
        while (done < destination.Length)
        {
            var n = await RandomAccess.ReadAsync(handle, destination[done..], offset + done, cancellationToken).ConfigureAwait(false);
            if (n == 0) throw new PackFormatException("pack file shrank while it was read");
            done += n;
        }
    }
}
