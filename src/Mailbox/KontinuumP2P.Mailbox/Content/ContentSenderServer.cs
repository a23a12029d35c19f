using System.Buffers;
using System.Collections;
using System.Collections.Concurrent;
using Google.Protobuf;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Protos.Content;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>Settings of a <see cref="ContentSenderServer"/>.</summary>
public sealed record ContentSenderOptions
{
    /// <summary>Contents offered at once; offering one more withdraws the oldest.</summary>
    public int MaxOffers { get; init; } = 64;

    /// <summary>Content streams served at once; more are refused with TOO_MANY_SESSIONS.</summary>
    public int MaxSessions { get; init; } = 16;

    /// <summary>Chunks one fetch may ask for.</summary>
    public int MaxFetchChunks { get; init; } = 64;

    /// <summary>How long a stream may stay without a request.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long one answer may take to be written.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// The sending device serving its own contents, read-only, on <c>/kontinuum/content/1.0.0</c> while it is online:
/// each offered content is re-sealed chunk by chunk from the original file (sealing is deterministic) and every chunk
/// is checked against the manifest before it is sent, so a file changed since the upload is reported missing, never
/// served wrong. Fetching needs the content id (only the sealed reference carries it), as at the mailbox nodes; Begin
/// and PutChunk are refused. Offers, streams, ranges, frames and waits are bounded.
/// </summary>
public sealed class ContentSenderServer : IProtocolHandler, IAsyncDisposable
{
    private readonly IPeerHost _host;
    private readonly ConcurrentDictionary<ContentId, Offer> _offers = new();
    private readonly ConcurrentQueue<ContentId> _order = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _sessions;
    private long _chunksServed;

    private ContentSenderServer(IPeerHost host, ContentSenderOptions options)
    {
        _host = host;
        Options = options;
    }

    /// <summary>Serves the protocol on <paramref name="host"/> (which must not serve it already, as a mailbox node does).</summary>
    /// <exception cref="InvalidOperationException">The host already serves <c>/kontinuum/content/1.0.0</c>.</exception>
    public static ContentSenderServer Start(IPeerHost host, ContentSenderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        options ??= new ContentSenderOptions();
        if (options.MaxOffers is < 1 or > 100_000 || options.MaxSessions is < 1 or > 10_000 || options.MaxFetchChunks is < 1 or > 1024
            || options.IdleTimeout <= TimeSpan.Zero || options.WriteTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), "MaxOffers 1..100000, MaxSessions 1..10000, MaxFetchChunks 1..1024 and positive timeouts");
        if (host.Protocols.Contains(ContentProtocol.ProtocolId))
            throw new InvalidOperationException("this host already serves content (a mailbox node holds the group's contents itself)");
        var server = new ContentSenderServer(host, options);
        host.SetHandler(ContentProtocol.ProtocolId, server);
        return server;
    }

    /// <summary>The options in force.</summary>
    public ContentSenderOptions Options { get; }

    /// <summary>Contents offered now.</summary>
    public int OfferCount => _offers.Count;

    /// <summary>Chunks sent since start.</summary>
    public long ChunksServed => Interlocked.Read(ref _chunksServed);

    /// <summary>Offers <paramref name="path"/> as the content of <paramref name="reference"/> (re-hashed here, so a changed file is refused).</summary>
    /// <exception cref="ContentException">The file does not match the reference (<see cref="ContentErrorCode.BadManifest"/>).</exception>
    public async Task OfferAsync(string path, ContentReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var limits = new ContentLimits { MaxContentBytes = (long)ContentLimits.MaxChunkSize * ContentLimits.MaxChunkCount };
        var manifest = await ContentEncoder.PrepareAgainAsync(path, limits, reference, cancellationToken).ConfigureAwait(false);
        _offers[reference.Id] = new Offer(Path.GetFullPath(path), manifest, reference.Key);
        _order.Enqueue(reference.Id);
        while (_offers.Count > Options.MaxOffers && _order.TryDequeue(out var oldest)) _offers.TryRemove(oldest, out _);
    }

    /// <summary>Stops offering a content; false when it was not offered.</summary>
    public bool Withdraw(ContentId id) => _offers.TryRemove(id, out _);

    /// <inheritdoc />
    public async ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        try
        {
            if (Interlocked.Increment(ref _sessions) > Options.MaxSessions)
            {
                await WriteAsync(stream, Error(0, ContentErrorCode.TooManySessions, "this device serves as many content streams as it allows"), linked.Token).ConfigureAwait(false);
                return;
            }
            while (await ServeOneAsync(stream, linked.Token).ConfigureAwait(false))
            {
            }
            await stream.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException or UnauthorizedAccessException)
        {
            stream.Reset();
        }
        finally
        {
            Interlocked.Decrement(ref _sessions);
        }
    }

    private async Task<bool> ServeOneAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        ContentRequest? request;
        using (var idle = new CancellationTokenSource(Options.IdleTimeout, _host.TimeProvider))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, idle.Token))
        {
            try
            {
                request = await MailboxFrames.ReadAsync(stream.Input, ContentRequest.Parser, ContentProtocol.MaxFrameBytes, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return false;
            }
            catch (InvalidDataException e)
            {
                await WriteAsync(stream, Error(0, ContentErrorCode.Malformed, e.Message), cancellationToken).ConfigureAwait(false);
                return false;
            }
        }
        if (request is null) return false;
        var offer = request.BodyCase switch
        {
            ContentRequest.BodyOneofCase.Manifest => Find(request.Manifest.ContentId),
            ContentRequest.BodyOneofCase.Fetch => Find(request.Fetch.ContentId),
            _ => null,
        };
        if (request.RequestId == 0 || request.BodyCase == ContentRequest.BodyOneofCase.None)
        {
            await WriteAsync(stream, Error(request.RequestId, ContentErrorCode.Malformed, "a request needs a non-zero request_id and a body"), cancellationToken).ConfigureAwait(false);
            return false;
        }
        if (request.BodyCase is ContentRequest.BodyOneofCase.Begin or ContentRequest.BodyOneofCase.Put)
        {
            await WriteAsync(stream, Error(request.RequestId, ContentErrorCode.Unauthorized, "a sending device serves its own contents read-only"), cancellationToken).ConfigureAwait(false);
        }
        else if (offer is null)
        {
            await WriteAsync(stream, Error(request.RequestId, ContentErrorCode.UnknownContent, "this device offers no such content"), cancellationToken).ConfigureAwait(false);
        }
        else if (request.BodyCase == ContentRequest.BodyOneofCase.Manifest)
        {
            var all = new BitArray(offer.Manifest.ChunkCount, true);
            await WriteAsync(stream, new ContentResponse
            {
                RequestId = request.RequestId,
                Manifest = new ManifestResult { Manifest = ByteString.CopyFrom(offer.Manifest.Bytes), Have = ByteString.CopyFrom(ContentServerSession.Bitmap(all)) },
            }, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var fetch = request.Fetch;
            if (fetch.Count == 0 || fetch.Count > Options.MaxFetchChunks || (ulong)fetch.First + fetch.Count > (ulong)offer.Manifest.ChunkCount)
            {
                await WriteAsync(stream, Error(request.RequestId, ContentErrorCode.BadRange, $"fetch {fetch.First}+{fetch.Count} is outside the content or over {Options.MaxFetchChunks}"),
                    cancellationToken).ConfigureAwait(false);
                return true;
            }
            await FetchAsync(stream, request.RequestId, offer, (int)fetch.First, (int)fetch.Count, cancellationToken).ConfigureAwait(false);
        }
        return true;
    }

    private async Task FetchAsync(IP2PStream stream, ulong requestId, Offer offer, int first, int count, CancellationToken cancellationToken)
    {
        var manifest = offer.Manifest;
        var plain = ArrayPool<byte>.Shared.Rent(manifest.ChunkSize);
        var sealedChunk = ArrayPool<byte>.Shared.Rent(manifest.ChunkSize + ContentCipher.TagLength);
        try
        {
            using var cipher = new ContentCipher(offer.Key, manifest.Size, manifest.ChunkSize, manifest.ChunkCount);
            using var handle = File.OpenHandle(offer.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.Asynchronous);
            var file = new RandomAccessFileReader(handle);
            for (var index = first; index < first + count; index++)
            {
                var length = -1;
                try
                {
                    length = await ContentEncoder.SealChunkAsync(file, cipher, manifest, index, plain, sealedChunk, cancellationToken).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    // The file shrank: this chunk is reported missing.
                }
                var chunk = length >= 0 && manifest.Verify(index, sealedChunk.AsSpan(0, length))
                    ? new Chunk { Index = (uint)index, Data = UnsafeByteOperations.UnsafeWrap(sealedChunk.AsMemory(0, length)) }
                    : new Chunk { Index = (uint)index, Missing = true };
                if (!chunk.Missing) Interlocked.Increment(ref _chunksServed);
                // Written before the buffer is reused for the next chunk.
                await WriteAsync(stream, new ContentResponse { RequestId = requestId, Chunk = chunk }, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain);
            ArrayPool<byte>.Shared.Return(plain);
            ArrayPool<byte>.Shared.Return(sealedChunk);
        }
        await WriteAsync(stream, new ContentResponse { RequestId = requestId, FetchEnd = new FetchEnd() }, cancellationToken).ConfigureAwait(false);
    }

    private Offer? Find(ByteString id) =>
        id.Length == ContentProtocol.IdLength && _offers.TryGetValue(ContentId.FromDigest(id.Span), out var offer) ? offer : null;

    private async Task WriteAsync(IP2PStream stream, ContentResponse response, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(Options.WriteTimeout, _host.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        await MailboxFrames.WriteAsync(stream.Output, response, linked.Token).ConfigureAwait(false);
    }

    private static ContentResponse Error(ulong requestId, ContentErrorCode code, string message) =>
        new() { RequestId = requestId, Error = new ContentError { Code = (uint)code, Message = message } };

    /// <summary>Stops serving: open streams are cancelled and the handler is removed.</summary>
    public ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            _stopping.Cancel();
            _host.RemoveHandler(ContentProtocol.ProtocolId);
        }
        _offers.Clear();
        return ValueTask.CompletedTask;
    }

    private sealed record Offer(string Path, ContentManifest Manifest, byte[] Key);
}
