using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Negotiation;
using KontinuumP2P.Net.Security;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Hosting;

/// <summary>
/// One upgraded connection of a <see cref="PeerHost"/>: opens outbound streams, and runs the owned loop that accepts
/// inbound streams, enforces the stream caps, negotiates each stream under a timeout and dispatches it to its handler.
/// </summary>
internal sealed class HostConnection : IConnection
{
    private readonly PeerHost _host;
    private readonly ISecureConnection _secure;
    private readonly IStreamMuxer _muxer;
    private readonly CancellationTokenSource _closed;
    // Read once: the source is disposed when the connection ends, its token stays valid for those who hold it.
    private readonly CancellationToken _closedToken;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<string, int> _inboundPerProtocol = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _inboundStreams;
    private int _openStreams;
    private long _lastActivity;
    private int _closing;

    public HostConnection(PeerHost host, string id, ISecureConnection secure, IStreamMuxer muxer, Direction direction,
        string? ipKey, CancellationToken hostStopping)
    {
        _host = host;
        _secure = secure;
        _muxer = muxer;
        Id = id;
        Direction = direction;
        IpKey = ipKey;
        Opened = host.TimeProvider.GetUtcNow();
        _lastActivity = host.TimeProvider.GetTimestamp();
        _closed = CancellationTokenSource.CreateLinkedTokenSource(hostStopping);
        _closedToken = _closed.Token;
    }

    public string Id { get; }
    public PeerId RemotePeer => _secure.RemotePeer;
    public ReadOnlyMemory<byte> RemotePublicKey => _secure.RemotePublicKey;
    public Multiaddr RemoteAddress => _secure.Transport.RemoteAddress;
    public Multiaddr LocalAddress => _secure.Transport.LocalAddress;
    public Direction Direction { get; }
    public DateTimeOffset Opened { get; }
    public bool IsClosed => Volatile.Read(ref _closing) != 0 || _finished.Task.IsCompleted;

    /// <summary>The remote IP (for the per-IP limit), or null for transports without one.</summary>
    public string? IpKey { get; }

    /// <summary>The raw connection, for byte counters.</summary>
    public ITransportConnection Transport => _secure.Transport;

    /// <summary>Cancelled when the connection closes or the host stops.</summary>
    public CancellationToken Closing => _closedToken;

    /// <summary>Completes once the connection is fully closed and unregistered.</summary>
    public Task Finished => _finished.Task;

    /// <summary>True when no stream is open and none was for <paramref name="idleTimeout"/>.</summary>
    public bool IsIdle(TimeSpan idleTimeout) =>
        Volatile.Read(ref _openStreams) == 0 && _muxer.ActiveStreams == 0
        && _host.TimeProvider.GetElapsedTime(Interlocked.Read(ref _lastActivity)) >= idleTimeout;

    public async ValueTask<IP2PStream> NewStreamAsync(IReadOnlyList<string> protocols, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(protocols);
        if (IsClosed) throw new IOException($"connection {Id} to {RemotePeer} is closed");
        var muxed = await _muxer.OpenStreamAsync(cancellationToken).ConfigureAwait(false);
        using var timeout = new CancellationTokenSource(_host.Options.StreamNegotiationTimeout, _host.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, _closedToken);
        try
        {
            var protocol = await MultistreamSelect.SelectAsync(muxed, protocols, linked.Token).ConfigureAwait(false);
            return Track(new HostStream(muxed, protocol, this, Direction.Outbound));
        }
        catch (Exception e)
        {
            muxed.Reset();
            await muxed.DisposeAsync().ConfigureAwait(false);
            if (e is OperationCanceledException && timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                throw new TimeoutException($"negotiating {string.Join(", ", protocols)} with {RemotePeer} timed out");
            if (e is OperationCanceledException && _closed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                throw new IOException($"connection {Id} to {RemotePeer} closed during negotiation", e);
            throw;
        }
    }

    public async ValueTask CloseAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 0)
        {
            try
            {
                // GoAway(normal) first so the remote ends quietly, then drop the session and the socket.
                await _muxer.CloseAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
            {
                _muxer.Abort();
            }
            await _muxer.DisposeAsync().ConfigureAwait(false);
        }
        await _finished.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes at once without GoAway.</summary>
    public void Abort()
    {
        Interlocked.Exchange(ref _closing, 1);
        _muxer.Abort();
        _secure.Abort();
    }

    /// <summary>The connection's owned loop: accepts inbound streams until the session ends, then cleans up.</summary>
    public async Task RunAsync()
    {
        try
        {
            while (true)
            {
                var muxed = await _muxer.AcceptStreamAsync(_closedToken).ConfigureAwait(false);
                if (muxed is null) break;
                if (Interlocked.Increment(ref _inboundStreams) > _host.Options.MaxInboundStreamsPerConnection)
                {
                    Interlocked.Decrement(ref _inboundStreams);
                    await RefuseAsync(muxed, "connection-stream-limit").ConfigureAwait(false);
                    continue;
                }
                if (!_host.Tasks.Run(_ => HandleInboundAsync(muxed)))
                {
                    Interlocked.Decrement(ref _inboundStreams);
                    await RefuseAsync(muxed, "shutting-down").ConfigureAwait(false);
                    break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            HostLog.ConnectionClosed(_host.Logger, Id, RemotePeer);
        }
        finally
        {
            Interlocked.Exchange(ref _closing, 1);
            await _closed.CancelAsync().ConfigureAwait(false);
            _muxer.Abort();
            await _muxer.DisposeAsync().ConfigureAwait(false);
            await _secure.DisposeAsync().ConfigureAwait(false);
            await _secure.Transport.DisposeAsync().ConfigureAwait(false);
            _host.OnConnectionClosed(this);
            _closed.Dispose();
            _finished.TrySetResult();
        }
    }

    internal void OnStreamClosed(HostStream stream)
    {
        Interlocked.Decrement(ref _openStreams);
        Interlocked.Exchange(ref _lastActivity, _host.TimeProvider.GetTimestamp());
        _host.Metrics.StreamClosed(stream.Direction);
    }

    private HostStream Track(HostStream stream)
    {
        Interlocked.Increment(ref _openStreams);
        Interlocked.Exchange(ref _lastActivity, _host.TimeProvider.GetTimestamp());
        _host.Metrics.StreamOpened(stream.Direction, stream.Protocol);
        return stream;
    }

    private async Task HandleInboundAsync(IMuxedStream muxed)
    {
        try
        {
            string protocol;
            var token = _closedToken;
            using (var timeout = new CancellationTokenSource(_host.Options.StreamNegotiationTimeout, _host.TimeProvider))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(token, timeout.Token))
            {
                try
                {
                    protocol = await MultistreamSelect.HandleAsync(muxed, _host.HasHandler, _host.ListHandlers, linked.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or InvalidDataException or ObjectDisposedException)
                {
                    await RefuseAsync(muxed, timeout.IsCancellationRequested ? "negotiation-timeout" : "negotiation-failed").ConfigureAwait(false);
                    return;
                }
            }
            var handler = _host.GetHandler(protocol);
            if (handler is null || !TryEnterProtocol(protocol))
            {
                // js semantics: a stream over the per-protocol cap is reset after negotiation succeeded.
                await RefuseAsync(muxed, handler is null ? "handler-removed" : "protocol-stream-limit").ConfigureAwait(false);
                return;
            }
            // The protocol's scope counts its inbound streams across every connection.
            var protocolScope = _host.Resources.Protocol(protocol);
            if (protocolScope.TryAddStream() is { } full)
            {
                lock (_lock) _inboundPerProtocol[protocol]--;
                await RefuseAsync(muxed, full).ConfigureAwait(false);
                return;
            }
            // The handler's own buffers count in this stream's scope: connection, peer, protocol and system.
            var stream = Track(new HostStream(muxed, protocol, this, Direction.Inbound,
                _host.Resources.OpenStream((_muxer as YamuxSession)?.Resources, protocolScope)));
            try
            {
                await handler.HandleAsync(stream, token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or OperationCanceledException or ObjectDisposedException)
            {
                // The peer reset, sent garbage or went away: its problem, not the app's.
                if (!token.IsCancellationRequested) HostLog.HandlerStreamFailed(_host.Logger, protocol, Id, e.Message);
                stream.Reset();
            }
            catch (Exception e)
            {
                // Anything else is a bug in the app's handler: operators must see it.
                HostLog.HandlerFailed(_host.Logger, e, protocol, Id);
                stream.Reset();
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                protocolScope.RemoveStream();
                lock (_lock) _inboundPerProtocol[protocol]--;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inboundStreams);
        }
    }

    private bool TryEnterProtocol(string protocol)
    {
        var limit = _host.InboundLimitFor(protocol);
        lock (_lock)
        {
            var open = _inboundPerProtocol.GetValueOrDefault(protocol);
            if (open >= limit) return false;
            _inboundPerProtocol[protocol] = open + 1;
            return true;
        }
    }

    private async ValueTask RefuseAsync(IMuxedStream muxed, string reason)
    {
        HostLog.StreamRefused(_host.Logger, Id, reason);
        _host.Metrics.StreamRejected(reason);
        muxed.Reset();
        await muxed.DisposeAsync().ConfigureAwait(false);
    }
}
