using System.Collections.Concurrent;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Dht.Rpc;

namespace KontinuumP2P.Dht.Tests.Fakes;

/// <summary>
/// An in-process network of <see cref="IKadNetwork"/> endpoints: requests go through the real codec (encode, decode,
/// trim) and the real handler, with no sockets. Peers can go offline; a protocol mismatch is refused like
/// multistream would refuse it.
/// </summary>
internal sealed class FakeKadSwarm(TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<PeerId, FakeKadNetwork> _endpoints = new();
    private long _requests;

    public TimeProvider TimeProvider { get; } = timeProvider;

    public long Requests => Interlocked.Read(ref _requests);

    public FakeKadNetwork Join(PeerId peer, string protocolId)
    {
        var endpoint = new FakeKadNetwork(this, peer, protocolId, Multiaddr.Parse($"/memory/{peer}"));
        _endpoints[peer] = endpoint;
        return endpoint;
    }

    public FakeKadNetwork Endpoint(PeerId peer) => _endpoints[peer];

    public async ValueTask<KadMessage?> DeliverAsync(PeerId from, string protocolId, PeerId to, KadMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _requests);
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();
        if (!_endpoints.TryGetValue(to, out var target) || target.Offline) throw new IOException($"{to} is unreachable");
        var handler = target.Handler ?? throw new ProtocolNotSupportedException($"{to} serves no kad protocol");
        if (target.ProtocolId != protocolId) throw new ProtocolNotSupportedException($"{to} does not speak {protocolId}");
        // What identify does on a real connection: the receiver learns the sender's listen addresses.
        if (_endpoints.TryGetValue(from, out var sender)) target.AddAddresses(from, sender.LocalAddresses);
        var decoded = KadMessageCodec.Decode(KadMessageCodec.Encode(request));
        KadMessage? response;
        try
        {
            response = await handler(from, decoded, cancellationToken);
        }
        catch (InvalidDataException e)
        {
            throw new StreamResetException("the server reset the stream", e);
        }
        return response is null ? null : KadMessageCodec.Decode(KadMessageCodec.EncodeTrimmed(response));
    }
}

internal sealed class FakeKadNetwork(FakeKadSwarm swarm, PeerId peer, string protocolId, Multiaddr address) : IKadNetwork
{
    private readonly ConcurrentDictionary<PeerId, IReadOnlyList<Multiaddr>> _addresses = new();

    public PeerId LocalPeer { get; } = peer;

    public string ProtocolId { get; } = protocolId;

    public TimeProvider TimeProvider => swarm.TimeProvider;

    public IReadOnlyList<Multiaddr> LocalAddresses { get; } = [address];

    public KadRequestHandler? Handler { get; private set; }

    public bool Offline { get; set; }

    public event EventHandler<PeerId>? ServerPeerDiscovered;

    public IReadOnlyList<Multiaddr> GetAddresses(PeerId peer) => _addresses.TryGetValue(peer, out var list) ? list : [];

    public void AddAddresses(PeerId peer, IReadOnlyList<Multiaddr> addresses)
    {
        if (addresses.Count > 0) _addresses[peer] = addresses;
    }

    public ValueTask<KadMessage?> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken) =>
        Offline ? throw new IOException("we are offline") : swarm.DeliverAsync(LocalPeer, ProtocolId, peer, request, cancellationToken);

    public void StartServing(KadRequestHandler handler) => Handler = handler;

    public void StopServing() => Handler = null;

    public void RaiseServerPeerDiscovered(PeerId peer) => ServerPeerDiscovered?.Invoke(this, peer);
}
