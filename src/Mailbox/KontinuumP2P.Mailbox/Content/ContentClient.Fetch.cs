using System.Buffers;
using System.Security.Cryptography;
using Google.Protobuf;
using KontinuumP2P.Mailbox.Protos.Content;
using Microsoft.Win32.SafeHandles;

namespace KontinuumP2P.Mailbox.Content;

public sealed partial class ContentClient
{
    // One stream to one holder. Up to FetchDepth fetches are written ahead, so the holder never waits a round trip
    // between ranges; each chunk answer is read off the stream into one of a ring of pooled buffers (FetchDepth + 2)
    // and hashed, opened in place and written at its offset from there on the thread pool, so reading the stream
    // overlaps with checking, a chunk is copied once (out of the stream) and at most that many chunks per worker are in
    // hand.
    private async Task FetchWorkerAsync(int holderIndex, ContentHolder holder, SafeFileHandle file, ContentCipher cipher,
        DownloadState state, WritebackPacer writeback, IProgress<ContentProgress>? progress, CancellationToken cancellationToken)
    {
        var manifest = state.Manifest;
        var slots = Options.FetchDepth + 2;
        var buffers = new byte[slots][];
        var checks = new Task[slots];
        for (var s = 0; s < slots; s++)
        {
            buffers[s] = ArrayPool<byte>.Shared.Rent(manifest.ChunkSize + ContentCipher.TagLength + ChunkFrames.MaxHeaderLength);
            checks[s] = Task.CompletedTask;
        }
        var slot = 0;
        var inFlight = new Queue<InFlightFetch>();
        var answered = 0;
        ContentChannel? channel = null;
        try
        {
            while (true)
            {
                // Fill the pipeline with what is pending now; only an idle worker waits for chunks to come back.
                var sent = false;
                while (inFlight.Count < Options.FetchDepth)
                {
                    var run = inFlight.Count == 0
                        ? await state.TakeAsync(holderIndex, Options.FetchBatch, cancellationToken).ConfigureAwait(false)
                        : state.TryTake(holderIndex, Options.FetchBatch);
                    if (run is null) break;
                    var fetch = new InFlightFetch(run);
                    inFlight.Enqueue(fetch);
                    channel ??= await ContentChannel.OpenAsync(_host, holder, Options.RequestTimeout, cancellationToken).ConfigureAwait(false);
                    fetch.Id = await channel.SendAsync(new ContentRequest
                    {
                        Fetch = new Fetch { ContentId = ByteString.CopyFrom(manifest.Id.Digest), First = (uint)run[0], Count = (uint)run.Count },
                    }, flush: false, cancellationToken).ConfigureAwait(false);
                    sent = true;
                }
                if (inFlight.Count == 0) break;
                if (sent) await channel!.FlushAsync(cancellationToken).ConfigureAwait(false);
                var head = inFlight.Peek();
                for (answered = 0; answered < head.Chunks.Count;)
                {
                    var index = head.Chunks[answered];
                    // The slot's previous chunk settles itself (done or rejected) before its buffer takes the next one.
                    await checks[slot].ConfigureAwait(false);
                    var buffer = buffers[slot];
                    var answer = await channel!.ReceiveChunkAsync(head.Id, buffer, cancellationToken).ConfigureAwait(false);
                    var (offset, length) = (answer.Offset, answer.Length);
                    if (answer.Other is { } other)
                    {
                        if (other.BodyCase != ContentResponse.BodyOneofCase.Chunk || other.Chunk.Index != (uint)index)
                            throw new IOException($"holder {holder.Peer} answered chunk {index} with {other.BodyCase}");
                        answered++;
                        if (other.Chunk.Missing)
                        {
                            state.Reject(index, holderIndex, counted: false);
                            continue;
                        }
                        // Parsed the general way (another encoder's field order): its bytes move into the slot.
                        if (other.Chunk.Data.Length > buffer.Length) throw new InvalidDataException($"holder {holder.Peer} sent an oversized chunk {index}");
                        other.Chunk.Data.Span.CopyTo(buffer);
                        (offset, length) = (0, other.Chunk.Data.Length);
                    }
                    else
                    {
                        if (answer.Index != (uint)index) throw new IOException($"holder {holder.Peer} answered chunk {index} with chunk {answer.Index}");
                        answered++;
                    }
                    checks[slot] = Task.Run(() => CheckAndWrite(index, buffer, offset, length, holderIndex, file, cipher, state, writeback, progress, Options.KeystreamOpen),
                        cancellationToken);
                    slot = (slot + 1) % slots;
                }
                var end = await channel!.ReceiveAsync(head.Id, cancellationToken).ConfigureAwait(false);
                if (end.BodyCase != ContentResponse.BodyOneofCase.FetchEnd) throw new IOException($"holder {holder.Peer} did not end the fetch");
                inFlight.Dequeue();
                answered = 0;
            }
            await Task.WhenAll(checks).ConfigureAwait(false);
        }
        catch (ContentException e) when (e.Code == ContentErrorCode.DecryptFailed)
        {
            state.Fail(e);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidDataException or InvalidOperationException
                                      && !cancellationToken.IsCancellationRequested)
        {
            // The chunks being checked settle themselves (done or rejected) before the unanswered ones go back.
            foreach (var check in checks) await SettleAsync(check, state).ConfigureAwait(false);
            // This holder is out (unreachable, refusing, misbehaving); every chunk it has not answered goes to the others.
            var unanswered = inFlight.SelectMany((f, n) => n == 0 ? f.Chunks.Skip(answered) : f.Chunks).ToList();
            state.HolderFailed(holderIndex, unanswered, $"{holder.Peer}: {e.Message}");
        }
        finally
        {
            foreach (var check in checks) await SettleAsync(check, state).ConfigureAwait(false);
            foreach (var buffer in buffers)
            {
                CryptographicOperations.ZeroMemory(buffer);
                ArrayPool<byte>.Shared.Return(buffer);
            }
            if (channel is not null) await channel.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Runs on the thread pool; the write is a plain pwrite from there (an async write on Unix queues that same pwrite
    // to the pool: one hop more per chunk).
    private static void CheckAndWrite(int index, byte[] buffer, int offset, int length, int holderIndex, SafeFileHandle file,
        ContentCipher cipher, DownloadState state, WritebackPacer writeback, IProgress<ContentProgress>? progress, bool keystreamOpen)
    {
        var manifest = state.Manifest;
        var chunk = buffer.AsSpan(offset, length);
        if (!manifest.Verify(index, chunk))
        {
            state.Reject(index, holderIndex, counted: true);
            return;
        }
        // Verified against the manifest just above, so the keystream alone opens it (tags are checked until one passes).
        if (!(keystreamOpen ? cipher.TryOpenVerifiedInPlace(index, chunk) : cipher.TryDecryptInPlace(index, chunk)))
        {
            // Failed here, not only when the worker next awaits this slot: the chunk stays in flight, and a worker
            // waiting for in-flight chunks to come back would otherwise wait for this one forever.
            var error = new ContentException(ContentErrorCode.DecryptFailed, $"chunk {index} verified against the manifest but does not open with the reference's key");
            state.Fail(error);
            throw error;
        }
        var plainLength = manifest.PlaintextLengthOf(index);
        try
        {
            RandomAccess.Write(file, chunk[..plainLength], (long)index * manifest.ChunkSize);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Our own disk, not the holder: the download stops with the cause (verified chunks stay in the partial file).
            state.Fail(new ContentException(ContentErrorCode.Internal, $"could not write chunk {index} to the partial file: {e.Message}", e));
            return;
        }
        writeback.Wrote(plainLength);
        var done = state.Done(index, holderIndex);
        progress?.Report(new ContentProgress(done.Chunks, manifest.ChunkCount, done.Bytes, manifest.Size));
    }

    // Waits for a check in progress; a decrypt failure there fails the download, any other error was the worker's own.
    private static async Task SettleAsync(Task checking, DownloadState state)
    {
        try
        {
            await checking.ConfigureAwait(false);
        }
        catch (ContentException e) when (e.Code == ContentErrorCode.DecryptFailed)
        {
            state.Fail(e);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // Reported by the worker (it awaited the same task) or a cancellation.
        }
    }

    /// <summary>A fetch written to the holder and not yet fully answered.</summary>
    private sealed class InFlightFetch(List<int> chunks)
    {
        public List<int> Chunks { get; } = chunks;

        public ulong Id { get; set; }
    }
}
