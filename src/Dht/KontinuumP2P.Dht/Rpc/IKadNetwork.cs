using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Dht.Rpc;

/// <summary>Serves one decoded inbound request; returns the response, or null when none is due (ADD_PROVIDER).</summary>
/// <exception cref="InvalidDataException">The request is invalid: the stream carrying it is reset.</exception>
public delegate ValueTask<KadMessage?> KadRequestHandler(PeerId from, KadMessage request, CancellationToken cancellationToken);

/// <summary>
/// The small seam between the DHT and the network: one request to one peer and back, an address book, and inbound
/// requests. <see cref="HostKadNetwork"/> implements it over an <see cref="Core.Network.IPeerHost"/>; a simulator can
/// implement it directly.
/// </summary>
public interface IKadNetwork
{
    /// <summary>Our peer id.</summary>
    PeerId LocalPeer { get; }

    /// <summary>The kad protocol id spoken (e.g. <c>/kontinuum/kad/1.0.0</c>).</summary>
    string ProtocolId { get; }

    /// <summary>The clock.</summary>
    TimeProvider TimeProvider { get; }

    /// <summary>Addresses we can be reached on.</summary>
    IReadOnlyList<Multiaddr> LocalAddresses { get; }

    /// <summary>Known addresses of a peer.</summary>
    IReadOnlyList<Multiaddr> GetAddresses(PeerId peer);

    /// <summary>
    /// Known addresses of several peers, in order: <paramref name="addresses"/>[i] for <paramref name="peers"/>[i]. A
    /// server's answer asks for its k peers at once, so an address book can look them up under one lock with their
    /// memory loads overlapping, where k calls take k locks one after the other. The default calls
    /// <see cref="GetAddresses(PeerId)"/> for each.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="addresses"/> is shorter than <paramref name="peers"/>.</exception>
    void GetAddresses(ReadOnlySpan<PeerId> peers, Span<IReadOnlyList<Multiaddr>> addresses)
    {
        if (addresses.Length < peers.Length) throw new ArgumentException("shorter than the peers", nameof(addresses));
        for (var i = 0; i < peers.Length; i++) addresses[i] = GetAddresses(peers[i]);
    }

    /// <summary>
    /// The addresses we see the peer's open connections come from (not what it says about itself); empty when not
    /// connected or unknown. IP-diversity limits are applied to these.
    /// </summary>
    IReadOnlyList<Multiaddr> GetObservedAddresses(PeerId peer) => [];

    /// <summary>Remembers addresses learnt for a peer (from kad answers, snapshots, bootstrap lists): second-hand, so short-lived.</summary>
    void AddAddresses(PeerId peer, IReadOnlyList<Multiaddr> addresses);

    /// <summary>
    /// Remembers the addresses of every peer an answer names, <see cref="LocalPeer"/> excepted (each as
    /// <see cref="AddAddresses(PeerId, IReadOnlyList{Multiaddr})"/>), so an address book can take its lock once per
    /// answer. The default adds them one by one.
    /// </summary>
    void AddAddresses(IReadOnlyList<KadPeer> peers)
    {
        foreach (var peer in peers)
        {
            if (peer.PeerId != LocalPeer) AddAddresses(peer.PeerId, peer.Addresses);
        }
    }

    /// <summary>
    /// Marks a peer as a routing-table entry (true) or no longer one (false), so the address book keeps it however
    /// many other peers it hears of.
    /// </summary>
    void SetProtected(PeerId peer, bool inRoutingTable)
    {
    }

    /// <summary>
    /// Sends one request and returns the response, or null for ADD_PROVIDER (which has none).
    /// </summary>
    /// <exception cref="IOException">The peer is unreachable, refused the protocol, reset the stream, or sent garbage.</exception>
    ValueTask<KadMessage?> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken);

    /// <summary>
    /// Whether <paramref name="peer"/> can be reached now (a dial to its known addresses). The default sends it one
    /// FIND_NODE, which only servers answer; a libp2p network dials instead.
    /// </summary>
    async ValueTask<bool> ConfirmReachableAsync(PeerId peer, CancellationToken cancellationToken)
    {
        try
        {
            return await SendAsync(peer, KadMessage.Request(KadMessageType.FindNode, peer.ToByteArray()), cancellationToken).ConfigureAwait(false) is not null;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Starts accepting inbound requests (server mode).</summary>
    void StartServing(KadRequestHandler handler);

    /// <summary>Stops accepting inbound requests.</summary>
    void StopServing();

    /// <summary>Raised when a peer is learnt (e.g. through identify) to speak <see cref="ProtocolId"/>.</summary>
    event EventHandler<PeerId>? ServerPeerDiscovered;
}
