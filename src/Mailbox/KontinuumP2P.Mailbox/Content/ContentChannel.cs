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
        if (response.BodyCase == ContentResponse.BodyOneofCase.Error)
        {
            var code = (ContentErrorCode)response.Error.Code;
            throw new ContentException(Enum.IsDefined(code) ? code : ContentErrorCode.Unspecified, $"holder {Peer}: {response.Error.Message}");
        }
        if (response.RequestId != requestId) throw new IOException($"holder {Peer} answered request {response.RequestId}, expected {requestId}");
        return response;
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
