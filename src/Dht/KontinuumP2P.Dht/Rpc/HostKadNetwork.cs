using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Dht.Rpc;

/// <summary>
/// <see cref="IKadNetwork"/> over a libp2p host: each request opens a stream for the kad protocol, writes one
/// length-prefixed message, reads one (capped at 4 MiB) and half-closes.
/// </summary>
public sealed class HostKadNetwork : IKadNetwork, IDisposable
{
    private static readonly TimeSpan LearntAddressTtl = TimeSpan.FromHours(1);
    private const string RoutingTableTag = "kad-routing-table";
    private readonly IPeerHost _host;
    private readonly TimeSpan _idleTimeout;

    /// <summary>Wraps <paramref name="host"/> for <paramref name="protocolId"/>.</summary>
    /// <param name="host">The host.</param>
    /// <param name="protocolId">The kad protocol id.</param>
    /// <param name="inboundIdleTimeout">How long an inbound stream may sit idle between requests.</param>
    public HostKadNetwork(IPeerHost host, string protocolId, TimeSpan inboundIdleTimeout)
    {
        _host = host;
        ProtocolId = protocolId;
        _idleTimeout = inboundIdleTimeout;
        _host.PeerIdentified += OnPeerIdentified;
    }

    /// <inheritdoc />
    public PeerId LocalPeer => _host.PeerId;

    /// <inheritdoc />
    public string ProtocolId { get; }

    /// <inheritdoc />
    public TimeProvider TimeProvider => _host.TimeProvider;

    /// <inheritdoc />
    public IReadOnlyList<Multiaddr> LocalAddresses => _host.ListenAddresses;

    /// <inheritdoc />
    public event EventHandler<PeerId>? ServerPeerDiscovered;

    /// <inheritdoc />
    public IReadOnlyList<Multiaddr> GetAddresses(PeerId peer) => _host.PeerStore.GetAddresses(peer);

    /// <inheritdoc />
    public IReadOnlyList<Multiaddr> GetObservedAddresses(PeerId peer) =>
        [.. _host.Connections.Where(c => c.RemotePeer == peer && !c.IsClosed).Select(c => c.RemoteAddress)];

    /// <inheritdoc />
    public void AddAddresses(PeerId peer, IReadOnlyList<Multiaddr> addresses)
    {
        if (addresses.Count > 0 && peer != _host.PeerId) _host.PeerStore.AddSecondHandAddresses(peer, addresses, LearntAddressTtl);
    }

    /// <inheritdoc />
    public void SetProtected(PeerId peer, bool inRoutingTable)
    {
        if (inRoutingTable) _host.PeerStore.Protect(peer, RoutingTableTag);
        else _host.PeerStore.Unprotect(peer, RoutingTableTag);
    }

    /// <inheritdoc />
    public async ValueTask<KadMessage?> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken)
    {
        var stream = await _host.NewStreamAsync(peer, [ProtocolId], cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                await LengthPrefixed.WriteAsync(stream.Output, KadMessageCodec.Encode(request), cancellationToken).ConfigureAwait(false);
                if (request.Type == KadMessageType.AddProvider)
                {
                    await stream.Output.CompleteAsync().ConfigureAwait(false);
                    return null;
                }
                var bytes = await LengthPrefixed.ReadAsync(stream.Input, KadMessageCodec.MaxMessageSize, cancellationToken).ConfigureAwait(false)
                    ?? throw new IOException($"{peer} closed the kad stream without answering");
                await stream.Output.CompleteAsync().ConfigureAwait(false);
                return KadMessageCodec.Decode(bytes);
            }
            catch (InvalidDataException e)
            {
                stream.Reset();
                throw new IOException($"{peer} sent an invalid kad answer: {e.Message}", e);
            }
            catch (OperationCanceledException)
            {
                stream.Reset();
                throw;
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> ConfirmReachableAsync(PeerId peer, CancellationToken cancellationToken)
    {
        try
        {
            var connection = await _host.ConnectAsync(peer, cancellationToken).ConfigureAwait(false);
            return !connection.IsClosed;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Every dial failure (refused, unreachable, wrong identity, no address) means not reachable.
            return false;
        }
    }

    /// <inheritdoc />
    public void StartServing(KadRequestHandler handler) =>
        _host.SetHandler(ProtocolId, new KadStreamHandler(handler, TimeProvider, _idleTimeout));

    /// <inheritdoc />
    public void StopServing() => _host.RemoveHandler(ProtocolId);

    /// <inheritdoc />
    public void Dispose() => _host.PeerIdentified -= OnPeerIdentified;

    private void OnPeerIdentified(object? sender, PeerEventArgs e)
    {
        if (_host.PeerStore.Get(e.Peer)?.Protocols.Contains(ProtocolId) == true) ServerPeerDiscovered?.Invoke(this, e.Peer);
    }
}
