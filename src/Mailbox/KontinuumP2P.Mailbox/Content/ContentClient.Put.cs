using System.Buffers;
using System.Collections;
using System.Security.Cryptography;
using Google.Protobuf;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Protos.Content;

namespace KontinuumP2P.Mailbox.Content;

public sealed partial class ContentClient
{
    // Encrypt once: each chunk some holder lacks is sealed once (the next one while the current is sent) and written to
    // every holder that lacks it, on that holder's streams in turn, each with PutWindow puts ahead of their acks (read
    // by one task per stream). The slowest holder paces the upload, which ends only when every holder answered anyway.
    private async Task<ContentUpload> PutAsync(string path, ContentReference reference, ContentManifest manifest, IReadOnlyList<ContentHolder> holders,
        IProgress<ContentProgress>? progress, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        var file = new RandomAccessFileReader(handle);
        var acked = 0;
        void Acked()
        {
            var done = Interlocked.Increment(ref acked);
            progress?.Report(new ContentProgress(done / holders.Count, manifest.ChunkCount, Math.Min(manifest.Size, (long)done / holders.Count * manifest.ChunkSize), manifest.Size));
        }
        var targets = holders.Select(h => new PutTarget(h, cancellationToken)).ToList();
        try
        {
            await Task.WhenAll(targets.Select(t => OpenTargetAsync(t, manifest, Acked, cancellationToken))).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            await SendChunksAsync(file, reference, manifest, targets, cancellationToken).ConfigureAwait(false);
            foreach (var lane in targets.SelectMany(t => t.Lanes)) lane.Sent.Writer.TryComplete();
            await Task.WhenAll(targets.SelectMany(t => t.Lanes).Select(l => l.Acks)).ConfigureAwait(false);
        }
        finally
        {
            foreach (var target in targets) await target.DisposeAsync().ConfigureAwait(false);
        }
        cancellationToken.ThrowIfCancellationRequested();
        var stored = targets.Where(t => t.Failure is null).ToList();
        var failed = targets.Where(t => t.Failure is not null).Select(t => (t.Holder.Peer, t.Failure!.Message)).ToList();
        if (stored.Count == 0)
        {
            throw new ContentException((targets[0].Failure as ContentException)?.Code ?? ContentErrorCode.Unavailable,
                "no holder stored the content: " + string.Join("; ", failed.Select(f => $"{f.Peer}: {f.Message}")));
        }
        return new ContentUpload(reference, [.. stored.Select(t => t.Holder.Peer)], failed, stored.Sum(t => t.Sent));
    }

    // Opens the holder's streams and begins the content on each (puts are authorised per stream); the first answer says
    // which chunks it holds. A holder that fails here is out of the upload.
    private async Task OpenTargetAsync(PutTarget target, ContentManifest manifest, Action acked, CancellationToken cancellationToken)
    {
        try
        {
            await OpenLaneAsync(target, manifest, cancellationToken).ConfigureAwait(false);
            var have = target.Have!;
            var missing = 0;
            for (var i = 0; i < manifest.ChunkCount; i++)
            {
                if (i < have.Length && have[i]) acked();
                else missing++;
            }
            var streams = Math.Min(Options.StreamsPerHolder, Math.Max(1, missing / Options.PutWindow));
            await Task.WhenAll(Enumerable.Range(1, streams - 1).Select(_ => OpenLaneAsync(target, manifest, cancellationToken))).ConfigureAwait(false);
            foreach (var lane in target.Lanes) lane.Acks = ReadAcksAsync(target, lane, acked);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            target.Fail(e);
        }
    }

    private async Task OpenLaneAsync(PutTarget target, ContentManifest manifest, CancellationToken cancellationToken)
    {
        var channel = await ContentChannel.OpenAsync(_host, target.Holder, Options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        var lane = new PutLane(channel, Options.PutWindow);
        lock (target.Lanes) target.Lanes.Add(lane);
        var have = await BeginAsync(channel, manifest, target.Holder, cancellationToken).ConfigureAwait(false);
        lock (target.Lanes) target.Have ??= have;
    }

    private async Task SendChunksAsync(RandomAccessFileReader file, ContentReference reference, ContentManifest manifest, List<PutTarget> targets,
        CancellationToken cancellationToken)
    {
        var needed = Enumerable.Range(0, manifest.ChunkCount).Where(i => targets.Any(t => t.Lacks(i))).ToList();
        if (needed.Count == 0) return;
        using var cipher = new ContentCipher(reference.Key, manifest.Size, manifest.ChunkSize, manifest.ChunkCount) { Counter = Sealed };
        var contentId = ByteString.CopyFrom(manifest.Id.Digest);
        byte[][] plains = [ArrayPool<byte>.Shared.Rent(manifest.ChunkSize), ArrayPool<byte>.Shared.Rent(manifest.ChunkSize)];
        byte[][] sealedChunks = [ArrayPool<byte>.Shared.Rent(manifest.ChunkSize + ContentCipher.TagLength), ArrayPool<byte>.Shared.Rent(manifest.ChunkSize + ContentCipher.TagLength)];
        Task<int>? sealing = null;
        try
        {
            sealing = ContentEncoder.SealChunkAsync(file, cipher, manifest, needed[0], plains[0], sealedChunks[0], cancellationToken);
            for (var n = 0; n < needed.Count; n++)
            {
                var length = await sealing!.ConfigureAwait(false);
                sealing = null;
                var (index, current) = (needed[n], sealedChunks[n % 2]);
                if (n + 1 < needed.Count)
                {
                    var (next, plain, output) = (needed[n + 1], plains[(n + 1) % 2], sealedChunks[(n + 1) % 2]);
                    sealing = Task.Run(() => ContentEncoder.SealChunkAsync(file, cipher, manifest, next, plain, output, cancellationToken), cancellationToken);
                }
                // Copied into each stream's pipe by the write, so the buffer is free once every holder has it.
                var request = new ContentRequest { Put = new PutChunk { ContentId = contentId, Index = (uint)index, Data = UnsafeByteOperations.UnsafeWrap(current.AsMemory(0, length)) } };
                foreach (var target in targets)
                {
                    if (target.Lacks(index)) await SendToAsync(target, request, index, cancellationToken).ConfigureAwait(false);
                }
                if (!targets.Any(t => t.Failure is null)) return;
            }
        }
        finally
        {
            if (sealing is not null) await sealing.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            foreach (var buffer in plains.Concat(sealedChunks))
            {
                CryptographicOperations.ZeroMemory(buffer);
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private static async Task SendToAsync(PutTarget target, ContentRequest request, int index, CancellationToken cancellationToken)
    {
        var lane = target.NextLane();
        try
        {
            await lane.Window.WaitAsync(target.Token).ConfigureAwait(false);
            var id = await lane.Channel.SendAsync(request, flush: true, target.Token).ConfigureAwait(false);
            lane.Sent.Writer.TryWrite((id, index));
            Interlocked.Increment(ref target.Sent);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is IOException or OperationCanceledException or InvalidOperationException)
        {
            target.Fail(e);
        }
    }

    // Reads one stream's acknowledgements in order; a wrong or missing one puts the holder out of the upload.
    private static async Task ReadAcksAsync(PutTarget target, PutLane lane, Action acked)
    {
        try
        {
            await foreach (var (requestId, index) in lane.Sent.Reader.ReadAllAsync(target.Token).ConfigureAwait(false))
            {
                var answer = await lane.Channel.ReceiveAsync(requestId, target.Token).ConfigureAwait(false);
                if (answer.BodyCase != ContentResponse.BodyOneofCase.Put || answer.Put.Index != (uint)index)
                    throw new IOException($"holder {lane.Channel.Peer} answered put {index} with {answer.BodyCase}");
                acked();
                lane.Window.Release();
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException or InvalidDataException or ContentException)
        {
            target.Fail(e);
        }
    }

    private static async Task<BitArray> BeginAsync(ContentChannel channel, ContentManifest manifest, ContentHolder holder, CancellationToken cancellationToken)
    {
        var id = await channel.SendAsync(new ContentRequest
        {
            Begin = new Begin
            {
                MailboxId = ByteString.CopyFrom(holder.Mailbox!.MailboxId),
                Capability = ByteString.CopyFrom(holder.Mailbox.Capability),
                DeviceId = ByteString.CopyFrom(holder.DeviceId),
                Manifest = ByteString.CopyFrom(manifest.Bytes),
            },
        }, flush: true, cancellationToken).ConfigureAwait(false);
        var answer = await channel.ReceiveAsync(id, cancellationToken).ConfigureAwait(false);
        if (answer.BodyCase != ContentResponse.BodyOneofCase.Begin) throw new IOException($"holder {channel.Peer} answered begin with {answer.BodyCase}");
        var bits = new BitArray(answer.Begin.Have.ToByteArray());
        bits.Length = Math.Min(bits.Length, manifest.ChunkCount);
        return bits;
    }

    /// <summary>One holder of an upload: its streams, the chunks it held at Begin, and why it dropped out if it did.</summary>
    private sealed class PutTarget(ContentHolder holder, CancellationToken cancellationToken) : IAsyncDisposable
    {
        private readonly CancellationTokenSource _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        private int _next;
        public int Sent;

        public ContentHolder Holder { get; } = holder;

        public List<PutLane> Lanes { get; } = [];

        public BitArray? Have { get; set; }

        private volatile Exception? _failure;

        public Exception? Failure => _failure;

        public CancellationToken Token => _cancel.Token;

        public bool Lacks(int index) => Failure is null && Have is { } have && (index >= have.Length || !have[index]);

        public PutLane NextLane() => Lanes[_next++ % Lanes.Count];

        public void Fail(Exception error)
        {
            lock (Lanes)
            {
                if (_failure is not null) return;
                _failure = error;
            }
            _cancel.Cancel();
        }

        public async ValueTask DisposeAsync()
        {
            _cancel.Cancel();
            foreach (var lane in Lanes)
            {
                try
                {
                    await lane.Acks.ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException)
                {
                    // Recorded as the target's failure.
                }
                await lane.Channel.DisposeAsync().ConfigureAwait(false);
                lane.Window.Dispose();
            }
            _cancel.Dispose();
        }
    }

    /// <summary>One stream of an upload: puts written and not yet acknowledged (at most the window).</summary>
    private sealed class PutLane(ContentChannel channel, int window)
    {
        public ContentChannel Channel { get; } = channel;

        public SemaphoreSlim Window { get; } = new(window, window);

        public System.Threading.Channels.Channel<(ulong RequestId, int Index)> Sent { get; } =
            System.Threading.Channels.Channel.CreateBounded<(ulong, int)>(new System.Threading.Channels.BoundedChannelOptions(window + 1) { SingleReader = true, SingleWriter = true });

        public Task Acks { get; set; } = Task.CompletedTask;
    }
}
