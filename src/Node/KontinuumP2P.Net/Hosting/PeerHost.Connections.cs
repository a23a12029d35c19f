using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Security;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Net.Hosting;

/// <summary>Dialing, dial de-duplication, inbound upgrades, the connection registry, limits and idle close.</summary>
public sealed partial class PeerHost
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    // Peer-store protection tag held while at least one connection to the peer is open.
    private const string ConnectedTag = "connected";

    private readonly PeerStore _peerStore;
    private readonly ConnectionUpgrader _upgrader;
    private readonly Lock _connectionsLock = new();
    private readonly Dictionary<PeerId, List<HostConnection>> _byPeer = [];
    private readonly Dictionary<PeerId, Task<HostConnection>> _pendingDials = [];
    private readonly ConnectionBudget _budget;

    /// <summary>The connection slots in use (tests watch them).</summary>
    internal ConnectionBudget Budget => _budget;
    private long _nextConnectionId;
    private long _closedBytesReceived;
    private long _closedBytesSent;

    /// <inheritdoc />
    public IReadOnlyCollection<IConnection> Connections
    {
        get
        {
            lock (_connectionsLock) return [.. _byPeer.Values.SelectMany(list => list)];
        }
    }

    /// <inheritdoc />
    public async ValueTask<IConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var peer = address.PeerId;
        if (peer == PeerId) throw new ArgumentException($"'{address}' is our own address", nameof(address));
        if (peer is null)
        {
            var attempt = Tasks.Start(token => DialAddressAsync(address, null, token));
            return await attempt.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        return await ConnectCoreAsync(peer, [address], cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IConnection> ConnectAsync(PeerId peer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (peer == PeerId) throw new ArgumentException("cannot connect to ourselves", nameof(peer));
        if (FindConnection(peer) is { } open) return open;
        var addresses = _peerStore.GetAddresses(peer);
        if (addresses.Count == 0) throw new IOException($"no known address for {peer}");
        return await ConnectCoreAsync(peer, addresses, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IP2PStream> NewStreamAsync(PeerId peer, IReadOnlyList<string> protocols, CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(peer, cancellationToken).ConfigureAwait(false);
        return await connection.NewStreamAsync(protocols, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisconnectAsync(PeerId peer, CancellationToken cancellationToken)
    {
        HostConnection[] connections;
        lock (_connectionsLock) connections = _byPeer.TryGetValue(peer, out var list) ? [.. list] : [];
        foreach (var connection in connections) await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
    }

    internal void OnConnectionClosed(HostConnection connection)
    {
        bool last;
        lock (_connectionsLock)
        {
            last = _byPeer.TryGetValue(connection.RemotePeer, out var list) && list.Remove(connection) && list.Count == 0;
            if (last)
            {
                _byPeer.Remove(connection.RemotePeer);
                // Under the lock so a connection registering meanwhile cannot lose its protection (the store's lock is a leaf).
                _peerStore.Unprotect(connection.RemotePeer, ConnectedTag);
            }
        }
        if (connection.Transport is ITransportStatistics statistics)
        {
            Interlocked.Add(ref _closedBytesReceived, statistics.BytesReceived);
            Interlocked.Add(ref _closedBytesSent, statistics.BytesSent);
        }
        if (connection.Direction == Direction.Inbound) _budget.ReleaseInbound(connection.IpKey);
        else _budget.ReleaseOutbound();
        Metrics.ConnectionClosed(connection.Direction);
        HostLog.ConnectionClosed(Logger, connection.Id, connection.RemotePeer);
        if (last) Raise(PeerDisconnected, nameof(PeerDisconnected), connection.RemotePeer, connection);
    }

    private HostConnection? FindConnection(PeerId peer)
    {
        lock (_connectionsLock)
            return _byPeer.TryGetValue(peer, out var list) ? list.FirstOrDefault(c => !c.IsClosed) : null;
    }

    private async Task<HostConnection> ConnectCoreAsync(PeerId peer, IReadOnlyList<Multiaddr> addresses, CancellationToken cancellationToken)
    {
        if (FindConnection(peer) is { } open) return open;
        Task<HostConnection> attempt;
        lock (_connectionsLock)
        {
            // Concurrent dials to one peer share one attempt; it runs on the host's token, not the first caller's.
            if (!_pendingDials.TryGetValue(peer, out attempt!))
            {
                attempt = Tasks.Start(token => DialPeerAsync(peer, addresses, token));
                _pendingDials[peer] = attempt;
            }
        }
        return await attempt.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<HostConnection> DialPeerAsync(PeerId peer, IReadOnlyList<Multiaddr> addresses, CancellationToken cancellationToken)
    {
        try
        {
            if (FindConnection(peer) is { } open) return open;
            var errors = new List<Exception>();
            foreach (var address in addresses)
            {
                try
                {
                    return await DialAddressAsync(address.WithPeerId(peer), peer, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or TimeoutException or ArgumentException or InvalidDataException
                                              or System.Net.Sockets.SocketException)
                {
                    errors.Add(e);
                }
            }
            throw new IOException($"could not connect to {peer}: {string.Join("; ", errors.Select(e => e.Message))}",
                errors.Count == 1 ? errors[0] : new AggregateException(errors));
        }
        finally
        {
            lock (_connectionsLock) _pendingDials.Remove(peer);
        }
    }

    private async Task<HostConnection> DialAddressAsync(Multiaddr address, PeerId? expected, CancellationToken cancellationToken)
    {
        var transport = Options.Transports.FirstOrDefault(t => t.CanDial(address))
            ?? throw new ArgumentException($"no transport can dial '{address}'");
        var refusal = _budget.TryReserveOutbound();
        if (refusal is not null)
        {
            Metrics.ConnectionRejected(Direction.Outbound, refusal);
            throw new IOException($"cannot dial {address}: {refusal}");
        }
        var registered = false;
        try
        {
            using var timeout = new CancellationTokenSource(Options.HandshakeTimeout, TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            ITransportConnection raw;
            try
            {
                raw = await transport.DialAsync(address, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"dialing {address} timed out");
            }
            var (secure, muxer) = await UpgradeAsync(raw, Direction.Outbound, expected, timeout, linked.Token, cancellationToken).ConfigureAwait(false);
            var connection = Register(secure, muxer, Direction.Outbound, null);
            registered = true;
            _peerStore.AddAddresses(connection.RemotePeer, [address], Options.IdentifiedAddressTtl);
            return connection;
        }
        finally
        {
            if (!registered) _budget.ReleaseOutbound();
        }
    }

    private async Task UpgradeInboundAsync(ITransportConnection raw, string? ipKey, string? subnetKey, CancellationToken cancellationToken)
    {
        var registered = false;
        var pending = true;
        try
        {
            using var timeout = new CancellationTokenSource(Options.HandshakeTimeout, TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            var (secure, muxer) = await UpgradeAsync(raw, Direction.Inbound, null, timeout, linked.Token, cancellationToken).ConfigureAwait(false);
            _budget.EndHandshake(subnetKey);
            pending = false;
            Register(secure, muxer, Direction.Inbound, ipKey);
            registered = true;
        }
        catch (Exception e) when (e is IOException or TimeoutException or InvalidDataException or OperationCanceledException
                                      or System.Security.Cryptography.CryptographicException)
        {
            // Already logged and counted by UpgradeAsync; only this connection is affected.
        }
        finally
        {
            if (pending) _budget.EndHandshake(subnetKey);
            if (!registered) _budget.ReleaseInbound(ipKey);
        }
    }

    private async Task<(ISecureConnection, IStreamMuxer)> UpgradeAsync(ITransportConnection raw, Direction direction, PeerId? expected,
        CancellationTokenSource timeout, CancellationToken linked, CancellationToken caller)
    {
        try
        {
            return direction == Direction.Outbound
                ? await _upgrader.OutboundAsync(raw, expected, linked).ConfigureAwait(false)
                : await _upgrader.InboundAsync(raw, linked).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            raw.Abort();
            await raw.DisposeAsync().ConfigureAwait(false);
            var timedOut = e is OperationCanceledException && timeout.IsCancellationRequested && !caller.IsCancellationRequested;
            var reason = timedOut ? "handshake-timeout" : "handshake-failed";
            HostLog.UpgradeFailed(Logger, DirectionName(direction), raw.RemoteAddress, timedOut ? "timed out" : e.Message);
            Metrics.ConnectionRejected(direction, reason);
            if (timedOut) throw new TimeoutException($"upgrading the connection with {raw.RemoteAddress} timed out", e);
            if (e is HandshakeException or InvalidDataException or ObjectDisposedException) throw new IOException(e.Message, e);
            throw;
        }
    }

    private HostConnection Register(ISecureConnection secure, IStreamMuxer muxer, Direction direction, string? ipKey)
    {
        var id = $"{PeerId.ToString()[^6..]}-{Interlocked.Increment(ref _nextConnectionId)}";
        var connection = new HostConnection(this, id, secure, muxer, direction, ipKey, Tasks.Stopping);
        bool first;
        lock (_connectionsLock)
        {
            if (!_byPeer.TryGetValue(connection.RemotePeer, out var list)) _byPeer[connection.RemotePeer] = list = [];
            list.Add(connection);
            first = list.Count == 1;
            if (first) _peerStore.Protect(connection.RemotePeer, ConnectedTag);
        }
        Metrics.ConnectionOpened(direction);
        HostLog.ConnectionOpened(Logger, id, connection.RemotePeer, DirectionName(direction), connection.RemoteAddress);
        _peerStore.SetPublicKey(connection.RemotePeer, connection.RemotePublicKey);
        if (!Tasks.Run(_ => connection.RunAsync()))
        {
            connection.Abort();
            OnConnectionClosed(connection);
            throw new ObjectDisposedException(nameof(PeerHost));
        }
        if (first) Raise(PeerConnected, nameof(PeerConnected), connection.RemotePeer, connection);
        if (Options.IdentifyOnConnect) Tasks.Run(token => _identify.IdentifyAsync(connection, token));
        return connection;
    }

    private (string? IpKey, string? SubnetKey) KeysOf(Multiaddr address)
    {
        if (address.Components.Count == 0 || address.Components[0].Protocol.Kind is not (ValueKind.IPv4 or ValueKind.IPv6)) return (null, null);
        if (address.IsLoopback && !Options.LimitLoopbackPerIp) return (null, null);
        var ip = address.Components[0].AsIPAddress();
        return (ConnectionBudget.AddressKey(ip), ConnectionBudget.SubnetKey(ip));
    }

    private static string DirectionName(Direction direction) => direction == Direction.Inbound ? "inbound" : "outbound";

    private (long Received, long Sent) CountBytes()
    {
        long received = Interlocked.Read(ref _closedBytesReceived), sent = Interlocked.Read(ref _closedBytesSent);
        foreach (var connection in Connections)
        {
            if (connection is HostConnection { Transport: ITransportStatistics statistics })
            {
                received += statistics.BytesReceived;
                sent += statistics.BytesSent;
            }
        }
        return (received, sent);
    }

    private async Task IdleLoopAsync(CancellationToken cancellationToken)
    {
        var idle = Options.IdleConnectionTimeout;
        var period = TimeSpan.FromTicks(Math.Clamp(idle.Ticks / 4, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));
        using var timer = new PeriodicTimer(period, TimeProvider);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            foreach (var connection in Connections.OfType<HostConnection>().Where(c => c.IsIdle(idle)).ToList())
            {
                HostLog.ClosingIdle(Logger, connection.Id, connection.RemotePeer);
                Tasks.Run(token => CloseBoundedAsync(connection, token));
            }
        }
    }

    private async Task CloseAllConnectionsAsync()
    {
        var connections = Connections.OfType<HostConnection>().ToList();
        await Task.WhenAll(connections.Select(c => CloseBoundedAsync(c, CancellationToken.None))).ConfigureAwait(false);
    }

    private async Task CloseBoundedAsync(HostConnection connection, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(CloseTimeout, TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await connection.CloseAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The remote did not let us close politely: drop it.
            connection.Abort();
        }
    }
}
