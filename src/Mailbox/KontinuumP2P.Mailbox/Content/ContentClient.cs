using System.Buffers;
using System.Collections;
using Google.Protobuf;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Protos.Content;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// Sends and receives large content over <c>/kontinuum/content/1.0.0</c>. An upload encrypts then hashes the file,
/// begins it at every holder (a mailbox node of the group, authorised by the group's capability there) and puts only
/// the chunks each holder lacks, pipelined on a few streams per holder; the caller then pushes
/// <see cref="ContentReference.ToBlob"/> through the group client. A download verifies the manifest against the id,
/// fetches ranges of chunks from every holder in parallel, checks each chunk's hash before decrypting it, refetches a
/// chunk that fails from another holder, and resumes from its partial file without refetching chunks that verify.
/// </summary>
public sealed partial class ContentClient
{
    private readonly IPeerHost _host;

    /// <summary>Creates a client on <paramref name="host"/>.</summary>
    public ContentClient(IPeerHost host, ContentClientOptions? options = null)
    {
        _host = host ?? throw new ArgumentNullException(nameof(host));
        Options = options ?? new ContentClientOptions();
        Options.Limits.Validate();
        if (Options.StreamsPerHolder is < 1 or > 16) throw new ArgumentOutOfRangeException(nameof(options), "StreamsPerHolder must be 1..16");
        if (Options.PutWindow is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(options), "PutWindow must be 1..64");
        if (Options.FetchBatch is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(options), "FetchBatch must be 1..1024");
        if (Options.FetchDepth is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(options), "FetchDepth must be 1..8");
    }

    /// <summary>The options in force.</summary>
    public ContentClientOptions Options { get; }

    /// <summary>Encrypts, hashes and stores <paramref name="path"/> at every holder that accepts it.</summary>
    /// <exception cref="ContentException">A limit, or no holder stored every chunk (the message lists why).</exception>
    public async Task<ContentUpload> UploadAsync(string path, IReadOnlyList<ContentHolder> holders, IProgress<ContentProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        CheckHolders(holders);
        var (reference, manifest) = await ContentEncoder.PrepareAsync(path, Options.Limits, Options.ChunkSize, cancellationToken).ConfigureAwait(false);
        return await PutAsync(path, reference, manifest, holders, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Encrypts and hashes <paramref name="path"/> under a fresh key and returns its reference without storing anything:
    /// a caller that keeps the reference (it holds the key: keep it secret) before <see cref="ResumeUploadAsync"/> can
    /// resume an interrupted upload later, even from another process.
    /// </summary>
    /// <exception cref="ContentException">The file breaks a limit.</exception>
    public async Task<ContentReference> PrepareUploadAsync(string path, CancellationToken cancellationToken = default) =>
        (await ContentEncoder.PrepareAsync(path, Options.Limits, Options.ChunkSize, cancellationToken).ConfigureAwait(false)).Reference;

    /// <summary>
    /// Uploads <paramref name="path"/> under an existing <paramref name="reference"/> (from <see cref="PrepareUploadAsync"/>
    /// or an earlier upload), putting to each holder only the chunks it lacks: an upload interrupted at any point
    /// resumes without sending again what a holder acknowledged. <see cref="ContentUpload.ChunksSent"/> counts what was sent.
    /// </summary>
    /// <exception cref="ContentException">The file changed since the reference was made (<see cref="ContentErrorCode.BadManifest"/>),
    /// a limit, or no holder stored every chunk.</exception>
    public async Task<ContentUpload> ResumeUploadAsync(string path, ContentReference reference, IReadOnlyList<ContentHolder> holders,
        IProgress<ContentProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        CheckHolders(holders);
        var manifest = await ContentEncoder.PrepareAgainAsync(path, Options.Limits, reference, cancellationToken).ConfigureAwait(false);
        return await PutAsync(path, reference, manifest, holders, progress, cancellationToken).ConfigureAwait(false);
    }

    private static void CheckHolders(IReadOnlyList<ContentHolder> holders)
    {
        ArgumentNullException.ThrowIfNull(holders);
        if (holders.Count == 0 || holders.Any(h => h.Mailbox is null || h.DeviceId is null))
            throw new ArgumentException("an upload needs at least one holder, each with its mailbox keys and device id", nameof(holders));
    }

    private async Task<ContentUpload> PutAsync(string path, ContentReference reference, ContentManifest manifest, IReadOnlyList<ContentHolder> holders,
        IProgress<ContentProgress>? progress, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        var file = new RandomAccessFileReader(handle);
        var acked = 0;
        void Acked(int index)
        {
            var done = Interlocked.Increment(ref acked);
            progress?.Report(new ContentProgress(done / holders.Count, manifest.ChunkCount, Math.Min(manifest.Size, (long)done / holders.Count * manifest.ChunkSize), manifest.Size));
        }
        var attempts = holders.Select(h => PutToHolderAsync(file, reference, manifest, h, Acked, cancellationToken)).ToList();
        try
        {
            await Task.WhenAll(attempts).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Each attempt's failure is reported below.
        }
        cancellationToken.ThrowIfCancellationRequested();
        var stored = new List<PeerId>();
        var failed = new List<(PeerId, string)>();
        var sent = 0;
        for (var i = 0; i < holders.Count; i++)
        {
            if (attempts[i].IsCompletedSuccessfully)
            {
                stored.Add(holders[i].Peer);
                sent += attempts[i].Result;
            }
            else failed.Add((holders[i].Peer, attempts[i].Exception?.InnerException?.Message ?? "cancelled"));
        }
        if (stored.Count == 0)
        {
            var first = attempts[0].Exception?.InnerException as ContentException;
            throw new ContentException(first?.Code ?? ContentErrorCode.Unavailable,
                "no holder stored the content: " + string.Join("; ", failed.Select(f => $"{f.Item1}: {f.Item2}")));
        }
        return new ContentUpload(reference, stored, failed, sent);
    }

    private async Task<int> PutToHolderAsync(RandomAccessFileReader file, ContentReference reference, ContentManifest manifest, ContentHolder holder,
        Action<int> acked, CancellationToken cancellationToken)
    {
        // The first stream learns which chunks the holder lacks; every stream begins the content (puts are authorised per stream).
        var first = await ContentChannel.OpenAsync(_host, holder, Options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        BitArray have;
        try
        {
            have = await BeginAsync(first, manifest, holder, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await first.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        var missing = new Queue<int>();
        for (var i = 0; i < manifest.ChunkCount; i++)
        {
            if (i < have.Length && have[i]) acked(i);
            else missing.Enqueue(i);
        }
        var streams = Math.Min(Options.StreamsPerHolder, Math.Max(1, missing.Count / Options.PutWindow));
        var workers = new List<Task<int>> { PutStreamAsync(first, file, reference, manifest, missing, acked, cancellationToken) };
        for (var s = 1; s < streams; s++)
        {
            workers.Add(Task.Run(async () =>
            {
                var channel = await ContentChannel.OpenAsync(_host, holder, Options.RequestTimeout, cancellationToken).ConfigureAwait(false);
                try
                {
                    await BeginAsync(channel, manifest, holder, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    await channel.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
                return await PutStreamAsync(channel, file, reference, manifest, missing, acked, cancellationToken).ConfigureAwait(false);
            }, cancellationToken));
        }
        var counts = await Task.WhenAll(workers).ConfigureAwait(false);
        return counts.Sum();
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

    private async Task<int> PutStreamAsync(ContentChannel channel, RandomAccessFileReader file, ContentReference reference, ContentManifest manifest,
        Queue<int> missing, Action<int> acked, CancellationToken cancellationToken)
    {
        await using var owned = channel;
        using var cipher = new ContentCipher(reference.Key, manifest.Size, manifest.ChunkSize, manifest.ChunkCount);
        var plain = ArrayPool<byte>.Shared.Rent(manifest.ChunkSize);
        var sealedChunk = ArrayPool<byte>.Shared.Rent(manifest.ChunkSize + ContentCipher.TagLength);
        var outstanding = new Queue<(ulong Request, int Index)>();
        var sent = 0;
        var contentId = ByteString.CopyFrom(manifest.Id.Digest);
        try
        {
            while (true)
            {
                int index;
                lock (missing) index = missing.Count > 0 ? missing.Dequeue() : -1;
                if (index >= 0)
                {
                    var length = await ContentEncoder.SealChunkAsync(file, cipher, manifest, index, plain, sealedChunk, cancellationToken).ConfigureAwait(false);
                    // Copied into the pipe by the write, so the buffer can be reused at once.
                    var request = new ContentRequest { Put = new PutChunk { ContentId = contentId, Index = (uint)index, Data = UnsafeByteOperations.UnsafeWrap(sealedChunk.AsMemory(0, length)) } };
                    outstanding.Enqueue((await channel.SendAsync(request, flush: false, cancellationToken).ConfigureAwait(false), index));
                    sent++;
                    if (outstanding.Count < Options.PutWindow) continue;
                }
                else if (outstanding.Count == 0) return sent;
                await channel.FlushAsync(cancellationToken).ConfigureAwait(false);
                var (requestId, expected) = outstanding.Dequeue();
                var answer = await channel.ReceiveAsync(requestId, cancellationToken).ConfigureAwait(false);
                if (answer.BodyCase != ContentResponse.BodyOneofCase.Put || answer.Put.Index != (uint)expected)
                    throw new IOException($"holder {channel.Peer} answered put {expected} with {answer.BodyCase}");
                acked(expected);
            }
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain);
            ArrayPool<byte>.Shared.Return(plain);
            ArrayPool<byte>.Shared.Return(sealedChunk);
        }
    }
}
