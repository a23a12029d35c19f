using System.Buffers;
using System.Security.Cryptography;
using Google.Protobuf;
using KontinuumP2P.Mailbox.Protos.Content;
using Microsoft.Win32.SafeHandles;

namespace KontinuumP2P.Mailbox.Content;

public sealed partial class ContentClient
{
    // One stream to one holder. Up to FetchDepth fetches are written ahead, so the holder never waits a round trip
    // between ranges; each received chunk is hashed, opened and written at its offset on the thread pool from a ring of
    // pooled buffers (FetchDepth + 1), so reading the stream overlaps with checking and at most that many chunks per
    // worker are in hand.
    private async Task FetchWorkerAsync(int holderIndex, ContentHolder holder, SafeFileHandle file, ContentCipher cipher,
        DownloadState state, IProgress<ContentProgress>? progress, CancellationToken cancellationToken)
    {
        var manifest = state.Manifest;
        var slots = Options.FetchDepth + 1;
        var plains = new byte[slots][];
        var checks = new Task[slots];
        for (var s = 0; s < slots; s++)
        {
            plains[s] = ArrayPool<byte>.Shared.Rent(Math.Max(1, manifest.ChunkSize));
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
                    var answer = await channel!.ReceiveAsync(head.Id, cancellationToken).ConfigureAwait(false);
                    if (answer.BodyCase != ContentResponse.BodyOneofCase.Chunk || answer.Chunk.Index != (uint)index)
                        throw new IOException($"holder {holder.Peer} answered chunk {index} with {answer.BodyCase}");
                    answered++;
                    if (answer.Chunk.Missing)
                    {
                        state.Reject(index, holderIndex, counted: false);
                        continue;
                    }
                    // The chunk settles itself (done or rejected) from here on.
                    await checks[slot].ConfigureAwait(false);
                    var (data, plain) = (answer.Chunk.Data, plains[slot]);
                    checks[slot] = Task.Run(() => CheckAndWriteAsync(index, data, plain, holderIndex, file, cipher, state, progress, cancellationToken), cancellationToken);
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
            foreach (var plain in plains)
            {
                CryptographicOperations.ZeroMemory(plain);
                ArrayPool<byte>.Shared.Return(plain);
            }
            if (channel is not null) await channel.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task CheckAndWriteAsync(int index, ByteString data, byte[] plain, int holderIndex, SafeFileHandle file,
        ContentCipher cipher, DownloadState state, IProgress<ContentProgress>? progress, CancellationToken cancellationToken)
    {
        var manifest = state.Manifest;
        if (!manifest.Verify(index, data.Span))
        {
            state.Reject(index, holderIndex, counted: true);
            return;
        }
        var length = manifest.PlaintextLengthOf(index);
        if (!cipher.TryDecrypt(index, data.Span, plain.AsSpan(0, length)))
            throw new ContentException(ContentErrorCode.DecryptFailed, $"chunk {index} verified against the manifest but does not open with the reference's key");
        try
        {
            await RandomAccess.WriteAsync(file, plain.AsMemory(0, length), (long)index * manifest.ChunkSize, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Our own disk, not the holder: the download stops with the cause (verified chunks stay in the partial file).
            state.Fail(new ContentException(ContentErrorCode.Internal, $"could not write chunk {index} to the partial file: {e.Message}", e));
            return;
        }
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
