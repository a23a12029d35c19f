using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Protos.Content;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>A client's content stream to one holder: requests written in order, answers read with a timeout each.</summary>
internal sealed class ContentChannel : IAsyncDisposable
{
    private readonly IP2PStream _stream;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private ulong _nextId;

    private ContentChannel(IP2PStream stream, TimeSpan timeout, TimeProvider time)
    {
        _stream = stream;
        _timeout = timeout;
        _time = time;
    }

    public static async Task<ContentChannel> OpenAsync(IPeerHost host, ContentHolder holder, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (holder.Addresses.Count > 0) host.PeerStore.AddAddresses(holder.Peer, holder.Addresses, TimeSpan.FromMinutes(10));
        using var deadline = new Deadline(timeout, host.TimeProvider, cancellationToken);
        var stream = await host.NewStreamAsync(holder.Peer, [ContentProtocol.ProtocolId], deadline.Token).ConfigureAwait(false);
        return new ContentChannel(stream, timeout, host.TimeProvider);
    }

    public PeerId Peer => _stream.Connection.RemotePeer;

    /// <summary>Writes a request (not flushed unless asked) and returns its id.</summary>
    public async Task<ulong> SendAsync(ContentRequest request, bool flush, CancellationToken cancellationToken)
    {
        request.RequestId = ++_nextId;
        MailboxFrames.Write(_stream.Output, request);
        if (flush) await FlushAsync(cancellationToken).ConfigureAwait(false);
        return request.RequestId;
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        using var deadline = new Deadline(_timeout, _time, cancellationToken);
        var result = await _stream.Output.FlushAsync(deadline.Token).ConfigureAwait(false);
        if (result.IsCompleted) throw new IOException("the holder stopped reading");
    }

    /// <summary>Reads the next answer; a ContentError becomes a <see cref="ContentException"/>.</summary>
    public async Task<ContentResponse> ReceiveAsync(ulong requestId, CancellationToken cancellationToken)
    {
        using var deadline = new Deadline(_timeout, _time, cancellationToken);
        var response = await MailboxFrames.ReadAsync(_stream.Input, ContentResponse.Parser, ContentProtocol.MaxFrameBytes, deadline.Token).ConfigureAwait(false)
            ?? throw new IOException("the holder closed the stream");
        return Check(response, requestId);
    }

    private ContentResponse Check(ContentResponse response, ulong requestId)
    {
        if (response.BodyCase == ContentResponse.BodyOneofCase.Error)
        {
            var code = (ContentErrorCode)response.Error.Code;
            throw new ContentException(Enum.IsDefined(code) ? code : ContentErrorCode.Unspecified, $"holder {Peer}: {response.Error.Message}");
        }
        if (response.RequestId != requestId) throw new IOException($"holder {Peer} answered request {response.RequestId}, expected {requestId}");
        return response;
    }

    /// <summary>
    /// Reads the next answer of a fetch into <paramref name="buffer"/>. A chunk with data is left there (its place in
    /// the answer), any other answer is parsed; a ContentError becomes a <see cref="ContentException"/>.
    /// </summary>
    public async Task<ChunkAnswer> ReceiveChunkAsync(ulong requestId, byte[] buffer, CancellationToken cancellationToken)
    {
        int length;
        using (var deadline = new Deadline(_timeout, _time, cancellationToken))
            length = await ChunkFrames.ReadFrameAsync(_stream.Input, buffer, deadline.Token).ConfigureAwait(false);
        if (length < 0) throw new IOException("the holder closed the stream");
        if (ChunkFrames.TryParseChunk(buffer.AsSpan(0, length), out var id, out var index, out var offset, out var dataLength))
        {
            if (id != requestId) throw new IOException($"holder {Peer} answered request {id}, expected {requestId}");
            return new ChunkAnswer(index, offset, dataLength, null);
        }
        ContentResponse response;
        try
        {
            response = ContentResponse.Parser.ParseFrom(buffer.AsSpan(0, length));
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"invalid frame: {e.Message}", e);
        }
        return new ChunkAnswer(response.Chunk?.Index ?? 0, 0, 0, Check(response, requestId));
    }

    /// <summary>The caller's token, cancelled also when <c>timeout</c> passes on the host's clock (not the wall clock).</summary>
    private sealed class Deadline : IDisposable
    {
        private readonly CancellationTokenSource _timer;
        private readonly CancellationTokenSource _linked;

        public Deadline(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
        {
            _timer = new CancellationTokenSource(timeout, time);
            _linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _timer.Token);
        }

        public CancellationToken Token => _linked.Token;

        public void Dispose()
        {
            _linked.Dispose();
            _timer.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _stream.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            _stream.Reset();
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>
/// One answer of a fetch: a chunk whose ciphertext lies at <paramref name="Offset"/> in the caller's buffer, or
/// (<paramref name="Other"/> set) any other answer, parsed.
/// </summary>
internal readonly record struct ChunkAnswer(uint Index, int Offset, int Length, ContentResponse? Other);
