using System.Buffers;
using Google.Protobuf;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Protos.Content;

namespace KontinuumP2P.Mailbox.Content;

public sealed partial class ContentClient
{
    /// <summary>
    /// Fetches, verifies and decrypts a content into <paramref name="outputPath"/>. Chunks land in
    /// <c>outputPath.part</c> at their offsets; an interrupted download called again re-checks the chunks already there
    /// (re-sealing them is deterministic) and fetches only the others. The file is renamed into place once complete.
    /// </summary>
    /// <exception cref="ContentException">The reference breaks a limit, no holder has a verifying manifest, a chunk
    /// could not be had verified from any holder (<see cref="ContentErrorCode.Unavailable"/>), or a verified chunk does
    /// not open with the key (<see cref="ContentErrorCode.DecryptFailed"/>).</exception>
    public async Task<ContentDownload> DownloadAsync(ContentReference reference, IReadOnlyList<ContentHolder> holders, string outputPath,
        IProgress<ContentProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(holders);
        ArgumentNullException.ThrowIfNull(outputPath);
        if (holders.Count == 0) throw new ArgumentException("a download needs at least one holder", nameof(holders));
        Options.Limits.Check(reference.Size, reference.ChunkSize, reference.ChunkCount);
        try
        {
            return await DownloadFromAsync(reference, holders, outputPath, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (ContentException e) when (e.Code == ContentErrorCode.Unavailable && reference.Sender is { } sender && !sender.Equals(_host.PeerId)
                                         && !holders.Any(h => h.Peer.Equals(sender)))
        {
            // The sending device serves its own content while online: asked only for what the mailbox nodes could not
            // supply (the verified chunks are kept in the partial file), so an offline sender never slows a download.
            return await DownloadFromAsync(reference, [.. holders, new ContentHolder(sender, reference.SenderAddresses)], outputPath, progress, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    // Written plaintext is flushed to disk in the background every this many bytes, so the fsync before the rename
    // waits only for the tail instead of the whole content (about 1.4 s per GiB on this machine's disk).
    private const long WritebackEvery = 8L << 20;

    private async Task<ContentDownload> DownloadFromAsync(ContentReference reference, IReadOnlyList<ContentHolder> holders, string outputPath,
        IProgress<ContentProgress>? progress, CancellationToken cancellationToken)
    {
        var manifest = await FetchManifestAsync(reference, holders, cancellationToken).ConfigureAwait(false);
        var partPath = outputPath + ".part";
        using var cipher = new ContentCipher(reference.Key, manifest.Size, manifest.ChunkSize, manifest.ChunkCount);
        var state = new DownloadState(manifest, holders.Count);
        var resumed = 0;
        using (var handle = File.OpenHandle(partPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous))
        {
            var existing = RandomAccess.GetLength(handle);
            if (existing > 0) resumed = await ResumeAsync(handle, existing, manifest, cipher, state, cancellationToken).ConfigureAwait(false);
            RandomAccess.SetLength(handle, manifest.Size);
            var bytesDone = state.Pending.Sum(i => (long)manifest.PlaintextLengthOf(i));
            bytesDone = manifest.Size - bytesDone;
            progress?.Report(new ContentProgress(resumed, manifest.ChunkCount, bytesDone, manifest.Size));
            var writeback = new WritebackPacer(handle, WritebackEvery, Options.DropWrittenPages);
            var flushing = writeback.RunAsync();
            var workers = new List<Task>();
            for (var h = 0; h < holders.Count; h++)
            {
                for (var s = 0; s < Options.StreamsPerHolder; s++) workers.Add(FetchWorkerAsync(h, holders[h], handle, cipher, state, writeback, progress, cancellationToken));
            }
            try
            {
                await Task.WhenAll(workers).ConfigureAwait(false);
            }
            finally
            {
                writeback.Complete();
                await flushing.ConfigureAwait(false);
            }
            if (state.Failure is { } failure) throw failure;
            if (!state.Complete)
                throw new ContentException(ContentErrorCode.Unavailable, $"{state.Pending.Count} chunks could not be had verified from any of {holders.Count} holders: "
                    + string.Join("; ", state.HolderErrors.Where(e => e is not null)));
            RandomAccess.FlushToDisk(handle);
            // The file is not read back here: its pages go back to the kernel as the background flushes' did.
            if (Options.DropWrittenPages) PageCache.DropClean(handle);
        }
        File.Move(partPath, outputPath, overwrite: true);
        return new ContentDownload(outputPath, resumed, state.Fetched, state.Rejected,
            Enumerable.Range(0, holders.Count).Where(h => state.FetchedBy[h] > 0).ToDictionary(h => holders[h].Peer, h => state.FetchedBy[h]));
    }

    private async Task<ContentManifest> FetchManifestAsync(ContentReference reference, IReadOnlyList<ContentHolder> holders, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        foreach (var holder in holders)
        {
            try
            {
                await using var channel = await ContentChannel.OpenAsync(_host, holder, Options.RequestTimeout, cancellationToken).ConfigureAwait(false);
                var id = await channel.SendAsync(new ContentRequest { Manifest = new GetManifest { ContentId = ByteString.CopyFrom(reference.Id.Digest) } },
                    flush: true, cancellationToken).ConfigureAwait(false);
                var answer = await channel.ReceiveAsync(id, cancellationToken).ConfigureAwait(false);
                if (answer.BodyCase != ContentResponse.BodyOneofCase.Manifest) throw new IOException($"answered {answer.BodyCase}");
                var manifest = ContentManifest.Parse(answer.Manifest.Manifest.Span, reference.Id, Options.Limits);
                reference.Match(manifest);
                return manifest;
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or InvalidDataException or InvalidOperationException
                                          && !cancellationToken.IsCancellationRequested)
            {
                errors.Add($"{holder.Peer}: {e.Message}");
            }
        }
        throw new ContentException(ContentErrorCode.Unavailable, "no holder supplied a manifest that matches the reference: " + string.Join("; ", errors));
    }

    /// <summary>Marks the chunks of a partial file that re-seal to their manifest hash as done; returns how many.</summary>
    private static async Task<int> ResumeAsync(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long existing, ContentManifest manifest, ContentCipher cipher,
        DownloadState state, CancellationToken cancellationToken)
    {
        var reader = new RandomAccessFileReader(handle);
        var plain = ArrayPool<byte>.Shared.Rent(manifest.ChunkSize);
        var sealedChunk = ArrayPool<byte>.Shared.Rent(manifest.ChunkSize + ContentCipher.TagLength);
        var resumed = 0;
        try
        {
            for (var i = 0; i < manifest.ChunkCount; i++)
            {
                if ((long)i * manifest.ChunkSize + manifest.PlaintextLengthOf(i) > existing || manifest.Size == 0) break;
                var length = await ContentEncoder.SealChunkAsync(reader, cipher, manifest, i, plain, sealedChunk, cancellationToken).ConfigureAwait(false);
                if (!manifest.Verify(i, sealedChunk.AsSpan(0, length))) continue;
                state.MarkResumed(i);
                resumed++;
            }
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain);
            ArrayPool<byte>.Shared.Return(plain);
            ArrayPool<byte>.Shared.Return(sealedChunk);
        }
        return resumed;
    }
}
