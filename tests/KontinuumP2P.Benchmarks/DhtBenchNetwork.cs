using System.Collections.Concurrent;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Dht.Rpc;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// An in-process kad network for the DHT bench: each request goes through the real codec and the real handler of
/// the receiving node, with no sockets (the simulator of the next issue adds latency and loss).
/// </summary>
internal sealed class DhtBenchSwarm(TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<PeerId, DhtBenchEndpoint> _endpoints = new();
    private long _requests;

    public TimeProvider TimeProvider { get; } = timeProvider;

    public long Requests => Interlocked.Read(ref _requests);

    public DhtBenchEndpoint Join(PeerId peer, string protocolId)
    {
        var endpoint = new DhtBenchEndpoint(this, peer, protocolId, Multiaddr.Parse($"/memory/{peer}"));
        _endpoints[peer] = endpoint;
        return endpoint;
    }

    public DhtBenchEndpoint Endpoint(PeerId peer) => _endpoints[peer];

    public async ValueTask<KadMessage?> DeliverAsync(DhtBenchEndpoint from, PeerId to, KadMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _requests);
        await Task.Yield();
        if (!_endpoints.TryGetValue(to, out var target) || target.Handler is not { } handler) throw new IOException($"{to} is unreachable");
        if (target.ProtocolId != from.ProtocolId) throw new ProtocolNotSupportedException(from.ProtocolId);
        target.AddAddresses(from.LocalPeer, from.LocalAddresses); // what identify does on a real connection
        try
        {
            var response = await handler(from.LocalPeer, KadMessageCodec.Decode(KadMessageCodec.Encode(request)), cancellationToken);
            return response is null ? null : KadMessageCodec.Decode(KadMessageCodec.EncodeTrimmed(response));
        }
        catch (InvalidDataException e)
        {
            throw new StreamResetException("reset", e);
        }
    }
}

internal sealed class DhtBenchEndpoint(DhtBenchSwarm swarm, PeerId peer, string protocolId, Multiaddr address) : IKadNetwork
{
    private readonly ConcurrentDictionary<PeerId, IReadOnlyList<Multiaddr>> _addresses = new();

    public PeerId LocalPeer { get; } = peer;

    public string ProtocolId { get; } = protocolId;

    public TimeProvider TimeProvider => swarm.TimeProvider;

    public IReadOnlyList<Multiaddr> LocalAddresses { get; } = [address];

    public KadRequestHandler? Handler { get; private set; }

    public event EventHandler<PeerId>? ServerPeerDiscovered
    {
        add { }
        remove { }
    }

    public IReadOnlyList<Multiaddr> GetAddresses(PeerId peer) => _addresses.TryGetValue(peer, out var list) ? list : [];

    public void AddAddresses(PeerId peer, IReadOnlyList<Multiaddr> addresses)
    {
        if (addresses.Count > 0) _addresses[peer] = addresses;
    }

    public ValueTask<KadMessage?> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken) =>
        swarm.DeliverAsync(this, peer, request, cancellationToken);

    public void StartServing(KadRequestHandler handler) => Handler = handler;

    public void StopServing() => Handler = null;
}
