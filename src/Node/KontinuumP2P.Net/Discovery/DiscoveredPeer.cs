using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Net.Discovery;

/// <summary>Where a discovered peer came from.</summary>
public enum DiscoverySource
{
    /// <summary>Multicast DNS on the local network.</summary>
    Mdns,
    /// <summary>A configured bootstrap address.</summary>
    Bootstrap,
}

/// <summary>A peer found by a discovery mechanism.</summary>
/// <param name="PeerId">The peer.</param>
/// <param name="Addresses">Its dialable addresses, without <c>/p2p/</c>.</param>
/// <param name="Source">The mechanism that found it.</param>
/// <param name="Ttl">How long the addresses stay valid, as announced (mDNS record TTL) or chosen by the source.</param>
public sealed record DiscoveredPeer(PeerId PeerId, IReadOnlyList<Multiaddr> Addresses, DiscoverySource Source, TimeSpan Ttl);

/// <summary>A running discovery mechanism.</summary>
public interface IPeerDiscovery
{
    /// <summary>
    /// Streams peers as they are discovered: first those currently known, then new ones and ones whose addresses
    /// changed. Each call is an independent, bounded subscription (the oldest unread entries are dropped when a slow
    /// reader falls behind); it ends when <paramref name="cancellationToken"/> fires or the mechanism stops.
    /// </summary>
    IAsyncEnumerable<DiscoveredPeer> DiscoverAsync(CancellationToken cancellationToken);
}

/// <summary>
/// A discovery mechanism that wants to know which announced peers turned out to be real: anyone on a LAN can announce
/// any peer id, and only a connection proves who is behind an address.
/// </summary>
public interface IDiscoveryFeedback
{
    /// <summary>Called after a discovered peer was connected and its identity proven at <paramref name="remoteAddress"/>.</summary>
    /// <param name="peer">The connected peer.</param>
    /// <param name="remoteAddress">The address the connection reached.</param>
    void Connected(PeerId peer, Multiaddr remoteAddress);
}
