using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Protocols;

namespace KontinuumP2P.Net.Hosting;

/// <summary>
/// Identify for one host: answers <c>/ipfs/id/1.0.0</c>, merges <c>/ipfs/id/push/1.0.0</c>, identifies every new
/// connection, and pushes our protocols and addresses to peers that accept push when they change.
/// </summary>
internal sealed class IdentifyService
{
    private readonly PeerHost _host;

    public IdentifyService(PeerHost host)
    {
        _host = host;
        IdentifyHandler = new AnswerHandler(this);
        PushHandler = new MergeHandler(this);
    }

    public IProtocolHandler IdentifyHandler { get; }
    public IProtocolHandler PushHandler { get; }

    /// <summary>What we tell a peer about ourselves on <paramref name="connection"/>.</summary>
    public IdentifyMessage Describe(IConnection? connection) => new(
        _host.PublicKey,
        _host.ListenAddresses,
        [.. _host.Protocols],
        connection?.RemoteAddress.WithoutPeerId(),
        IdentifyProtocol.ProtocolVersion,
        _host.AgentVersion);

    /// <summary>Asks the remote of <paramref name="connection"/> who it is and records the answer.</summary>
    public async Task IdentifyAsync(HostConnection connection, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(IdentifyProtocol.Timeout, _host.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, connection.Closing);
        try
        {
            var stream = await connection.NewStreamAsync([IdentifyProtocol.Id], linked.Token).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var message = await IdentifyProtocol.ReadAsync(stream.Input, linked.Token).ConfigureAwait(false);
                if (message.PublicKey is not { } key || !connection.RemotePeer.Matches(key.Span))
                    throw new InvalidDataException("identify public key missing or not the connection's peer");
                Apply(connection.RemotePeer, message, connection);
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or TimeoutException or OperationCanceledException
                                      or ProtocolNotSupportedException or FormatException)
        {
            if (!cancellationToken.IsCancellationRequested && !connection.Closing.IsCancellationRequested)
                HostLog.IdentifyFailed(_host.Logger, connection.RemotePeer, timeout.IsCancellationRequested ? "timed out" : e.Message);
        }
    }

    /// <summary>Sends our current description to every connected peer that announced push.</summary>
    public async Task PushToAllAsync(CancellationToken cancellationToken)
    {
        var targets = _host.Connections
            .Where(c => !c.IsClosed && _host.PeerStore.Get(c.RemotePeer)?.Protocols.Contains(IdentifyProtocol.PushId) == true)
            .GroupBy(c => c.RemotePeer)
            .Select(g => g.First())
            .ToList();
        if (targets.Count == 0) return;
        // Push carries no key and no observed address: only what can change.
        var message = Describe(null) with { PublicKey = null, ObservedAddress = null };
        await Task.WhenAll(targets.Select(c => PushAsync(c, message, cancellationToken))).ConfigureAwait(false);
    }

    private async Task PushAsync(IConnection connection, IdentifyMessage message, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(IdentifyProtocol.Timeout, _host.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            var stream = await connection.NewStreamAsync([IdentifyProtocol.PushId], linked.Token).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
                await IdentifyProtocol.WriteAsync(stream.Output, message, linked.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or TimeoutException or OperationCanceledException or ProtocolNotSupportedException)
        {
            if (!cancellationToken.IsCancellationRequested) HostLog.IdentifyFailed(_host.Logger, connection.RemotePeer, "push: " + e.Message);
        }
    }

    private void Apply(PeerId peer, IdentifyMessage message, IConnection connection)
    {
        var store = _host.PeerStore;
        if (message.ListenAddresses is { } addresses) store.AddAddresses(peer, addresses, _host.Options.IdentifiedAddressTtl);
        if (message.Protocols is { } protocols) store.SetProtocols(peer, protocols);
        if (message.AgentVersion is { } agent) store.SetAgentVersion(peer, agent);
        if (message.PublicKey is { } key && peer.Matches(key.Span)) store.SetPublicKey(peer, key);
        _host.RaisePeerIdentified(peer, connection);
    }

    private sealed class AnswerHandler(IdentifyService service) : IProtocolHandler
    {
        public async ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken)
        {
            using var timeout = new CancellationTokenSource(IdentifyProtocol.Timeout, service._host.TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            await IdentifyProtocol.WriteAsync(stream.Output, service.Describe(stream.Connection), linked.Token).ConfigureAwait(false);
        }
    }

    private sealed class MergeHandler(IdentifyService service) : IProtocolHandler
    {
        public async ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken)
        {
            using var timeout = new CancellationTokenSource(IdentifyProtocol.Timeout, service._host.TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            var message = await IdentifyProtocol.ReadAsync(stream.Input, linked.Token).ConfigureAwait(false);
            var peer = stream.Connection.RemotePeer;
            // A pushed key must still be the connection's; anything else is ignored rather than trusted.
            if (message.PublicKey is { } key && !peer.Matches(key.Span)) message = message with { PublicKey = null };
            service.Apply(peer, message, stream.Connection);
        }
    }
}
