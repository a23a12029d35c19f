using System.Buffers;
using KontinuumP2P.Archive.Packs;

namespace KontinuumP2P.Archive.Sinks;

public sealed partial class DirectorySink
{
    // Read-back chunks: large enough for the hasher's multi-threaded join to split each one over the cores.
    private const int StreamChunk = ReadChunkBytes;

    /// <summary>
    /// Size of the reads restore streams a pack in (and the archive bench's read baseline uses): large, so that each read
    /// is one sequential request the kernel's read-ahead keeps ahead of, small enough to overlap with hashing.
    /// </summary>
    internal const int ReadChunkBytes = 4 << 20;

    /// <inheritdoc />
    async ValueTask ILocalSink.PutHashedAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var max = SinkChecks.MaxBytes(id.Kind);
        if (data.Length > max) throw new ArgumentException($"{id.Kind} of {data.Length} bytes exceeds {max}", nameof(data));
        if (File.Exists(PathOf(id))) return;
        await WriteAsync(id, data, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    async ValueTask<bool> ILocalSink.HashMatchesAsync(ArchiveObjectId id, long length, CancellationToken cancellationToken)
    {
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(PathOf(id), FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan | FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
        using (handle)
        {
            if (RandomAccess.GetLength(handle) != length) return false;
            // Two pooled buffers: the next chunk is read while the current one is hashed on all cores.
            var current = ArrayPool<byte>.Shared.Rent(StreamChunk);
            var next = ArrayPool<byte>.Shared.Rent(StreamChunk);
            try
            {
                using var hasher = global::Blake3.Hasher.New();
                long offset = 0;
                var filled = await ReadChunkAsync(handle, current, offset, cancellationToken).ConfigureAwait(false);
                while (filled > 0)
                {
                    offset += filled;
                    var reading = ReadChunkAsync(handle, next, offset, cancellationToken);
                    hasher.UpdateWithJoin(current.AsSpan(0, filled));
                    filled = await reading.ConfigureAwait(false);
                    (current, next) = (next, current);
                }
                if (offset != length) return false;
                Span<byte> digest = stackalloc byte[32];
                hasher.Finalize(digest);
                return digest.SequenceEqual(id.Digest);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(current);
                ArrayPool<byte>.Shared.Return(next);
            }
        }
    }

    /// <inheritdoc />
    Microsoft.Win32.SafeHandles.SafeFileHandle? ILocalSink.OpenRead(ArchiveObjectId id)
    {
        try
        {
            return File.OpenHandle(PathOf(id), FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan | FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static async Task<int> ReadChunkAsync(Microsoft.Win32.SafeHandles.SafeFileHandle handle, byte[] buffer, long offset, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < StreamChunk)
        {
            var n = await RandomAccess.ReadAsync(handle, buffer.AsMemory(filled, StreamChunk - filled), offset + filled, cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            filled += n;
        }
        return filled;
    }
}
