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
    /// The addresses we see the peer's open connections come from (not what it says about itself); empty when not
    /// connected or unknown. IP-diversity limits are applied to these.
    /// </summary>
    IReadOnlyList<Multiaddr> GetObservedAddresses(PeerId peer) => [];

    /// <summary>Remembers addresses learnt for a peer (from kad answers, snapshots, bootstrap lists): second-hand, so short-lived.</summary>
    void AddAddresses(PeerId peer, IReadOnlyList<Multiaddr> addresses);

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
