using System.Buffers;
using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Manifests;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Restore;

/// <summary>A blob restored from the archive, checked against its id (BLAKE3 of the sealed bytes).</summary>
/// <param name="Cursor">Its cursor in the mailbox it was archived from.</param>
/// <param name="BlobId">Its id.</param>
/// <param name="Sealed">The sealed blob as the mailbox held it (valid only during the callback that receives it: the pack's buffer is reused).</param>
public sealed record RestoredBlob(ulong Cursor, ReadOnlyMemory<byte> BlobId, ReadOnlyMemory<byte> Sealed);

/// <summary>What a restore of one mailbox found.</summary>
/// <param name="Manifests">Manifests read.</param>
/// <param name="Packs">Packs read and verified.</param>
/// <param name="Blobs">Blobs delivered.</param>
/// <param name="MissingPacks">Packs named by a manifest that no sink returned intact.</param>
/// <param name="MissingBlobs">Blobs in those packs.</param>
/// <param name="ChainError">Why the chain ended early, when it did (a corrupt or unlinked manifest).</param>
/// <param name="MissingBlobIds">Ids of the blobs in the missing packs.</param>
public sealed record RestoreReport(ulong Manifests, int Packs, long Blobs, IReadOnlyList<ArchiveObjectId> MissingPacks, long MissingBlobs, string? ChainError,
    IReadOnlyList<ReadOnlyMemory<byte>> MissingBlobIds);

/// <summary>
/// Restores a mailbox from its archive key alone: locator → manifest chain → packs → blobs, each pack checked by
/// its authenticated header and each blob against its blob id (one pass, see <see cref="PackReader.OpenBlobs"/>), and
/// its entries against the manifest that named it. Packs are taken from the first sink holding an intact copy.
/// </summary>
public static partial class ArchiveRestorer
{
    /// <summary>Restores one mailbox, handing each blob to <paramref name="onBlob"/> in cursor order.</summary>
    public static async Task<RestoreReport> RestoreMailboxAsync(IReadOnlyList<IArchiveSink> sinks, ReadOnlyMemory<byte> archiveKey,
        Func<RestoredBlob, CancellationToken, ValueTask> onBlob, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sinks);
        ArgumentNullException.ThrowIfNull(onBlob);
        var keys = ArchiveKeys.Derive(archiveKey.Span);
        // The chain is read from the sink holding the longest one (a sink may lag, or have lost its tail).
        IArchiveSink? chainSink = null;
        ulong longest = 0;
        foreach (var sink in sinks)
        {
            var length = await ManifestChain.FindLengthAsync(sink, keys, cancellationToken).ConfigureAwait(false);
            if (length > longest || chainSink is null) (chainSink, longest) = (sink, Math.Max(length, longest));
        }
        ulong manifests = 0;
        var packs = 0;
        long blobs = 0, missingBlobs = 0;
        var missing = new List<ArchiveObjectId>();
        var missingIds = new List<ReadOnlyMemory<byte>>();
        string? chainError = null;
        if (chainSink is null) return new RestoreReport(0, 0, 0, missing, 0, null, missingIds);
        var ahead = new Queue<(Manifest Manifest, Task<FetchedPack?> Fetch)>();
        try
        {
            var chain = ManifestChain.ReadAsync(chainSink, keys, cancellationToken).GetAsyncEnumerator(cancellationToken);
            await using (chain.ConfigureAwait(false))
            {
                while (true)
                {
                    try
                    {
                        if (!await chain.MoveNextAsync().ConfigureAwait(false)) break;
                    }
                    catch (PackFormatException e)
                    {
                        chainError = e.Message;
                        break;
                    }
                    var manifest = chain.Current.Manifest;
                    manifests++;
                    // The next packs are fetched and checked while this one's blobs are handed out.
                    ahead.Enqueue((manifest, FetchPackAsync(sinks, manifest, keys, cancellationToken)));
                    if (ahead.Count > Prefetch) await DeliverAsync(ahead.Dequeue()).ConfigureAwait(false);
                }
                while (ahead.Count > 0) await DeliverAsync(ahead.Dequeue()).ConfigureAwait(false);
            }
        }
        finally
        {
            // Cancelled or failed half way: the fetches already started still return their buffers.
            while (ahead.Count > 0)
            {
                try
                {
                    (await ahead.Dequeue().Fetch.ConfigureAwait(false))?.Release();
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or PackFormatException)
                {
                }
            }
        }
        return new RestoreReport(manifests, packs, blobs, missing, missingBlobs, chainError, missingIds);

        async Task DeliverAsync((Manifest Manifest, Task<FetchedPack?> Fetch) next)
        {
            var fetched = await next.Fetch.ConfigureAwait(false);
            if (fetched is null)
            {
                missing.Add(next.Manifest.PackId);
                missingBlobs += next.Manifest.Blobs.Count;
                missingIds.AddRange(next.Manifest.Blobs.Select(b => b.BlobId));
                return;
            }
            try
            {
                packs++;
                foreach (var e in fetched.Entries)
                {
                    await onBlob(new RestoredBlob(e.Cursor, e.BlobId, fetched.Buffer.AsMemory((int)e.Offset, e.Length)), cancellationToken).ConfigureAwait(false);
                    blobs++;
                }
            }
            finally
            {
                fetched.Release();
            }
        }
    }

    private const int Prefetch = 2;

    private sealed record FetchedPack(byte[] Buffer, IReadOnlyList<PackEntry> Entries, bool Pooled)
    {
        public void Release()
        {
            if (Pooled) ArrayPool<byte>.Shared.Return(Buffer);
        }
    }

    private static async Task<FetchedPack?> FetchPackAsync(IReadOnlyList<IArchiveSink> sinks, Manifest manifest, ArchiveKeys keys, CancellationToken cancellationToken)
    {
        foreach (var sink in sinks)
        {
            if (sink is ILocalSink local)
            {
                try
                {
                    if (await ReadLocalAsync(local, manifest, keys, cancellationToken).ConfigureAwait(false) is { } verified) return verified;
                }
                catch (Exception e) when (e is IOException or PackFormatException)
                {
                }
                continue;
            }
            FetchedPack fetched;
            int length;
            try
            {
                if (await sink.GetAsync(manifest.PackId, PackFormat.MaxPackBytes, cancellationToken).ConfigureAwait(false) is not { } bytes) continue;
                fetched = new FetchedPack(bytes, [], Pooled: false);
                length = bytes.Length;
            }
            catch (Exception e) when (e is IOException or PackFormatException)
            {
                continue;
            }
            try
            {
                var entries = PackReader.OpenBlobsIn(fetched.Buffer, length, keys);
                if (Matches(entries, manifest)) return fetched with { Entries = entries };
            }
            catch (PackFormatException)
            {
                // Corrupt copy: try the next sink.
            }
            fetched.Release();
        }
        return null;
    }

    // The pack must hold exactly the blobs the manifest lists.
    private static bool Matches(IReadOnlyList<PackEntry> entries, Manifest manifest)
    {
        if (entries.Count != manifest.Blobs.Count) return false;
        for (var i = 0; i < entries.Count; i++)
        {
            if (entries[i].Cursor != manifest.Blobs[i].Cursor || !entries[i].BlobId.Span.SequenceEqual(manifest.Blobs[i].BlobId.Span)) return false;
        }
        return true;
    }
}
