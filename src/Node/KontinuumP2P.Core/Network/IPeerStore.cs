using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Core.Network;

/// <summary>An immutable snapshot of what is known about a peer.</summary>
/// <param name="PeerId">The peer.</param>
/// <param name="Addresses">Known addresses, without <c>/p2p/</c>.</param>
/// <param name="Protocols">Protocols the peer announced in identify.</param>
/// <param name="PublicKey">Encoded public key, when known.</param>
/// <param name="AgentVersion">Agent version from identify, when known.</param>
public sealed record PeerInfo(
    PeerId PeerId,
    IReadOnlyList<Multiaddr> Addresses,
    IReadOnlySet<string> Protocols,
    ReadOnlyMemory<byte>? PublicKey,
    string? AgentVersion);

/// <summary>Addresses, protocols and keys of peers, bounded in size.</summary>
public interface IPeerStore
{
    /// <summary>Adds addresses (a trailing <c>/p2p/</c> is removed) valid for <paramref name="ttl"/>.</summary>
    void AddAddresses(PeerId peer, IEnumerable<Multiaddr> addresses, TimeSpan ttl);

    /// <summary>Replaces the protocols a peer announced.</summary>
    void SetProtocols(PeerId peer, IEnumerable<string> protocols);

    /// <summary>Records the peer's public key once it was proven.</summary>
    void SetPublicKey(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey);

    /// <summary>Records the peer's agent version.</summary>
    void SetAgentVersion(PeerId peer, string agentVersion);

    /// <summary>Unexpired addresses of a peer (empty when unknown).</summary>
    IReadOnlyList<Multiaddr> GetAddresses(PeerId peer);

    /// <summary>A snapshot of a peer, or null when unknown.</summary>
    PeerInfo? Get(PeerId peer);

    /// <summary>Forgets a peer.</summary>
    void Remove(PeerId peer);

    /// <summary>Number of peers known.</summary>
    int Count { get; }

    /// <summary>
    /// Adds addresses another peer told us about (kad answers, mDNS, snapshots): they live at most the store's
    /// second-hand lifetime, and a peer known only this way is kept in a smaller pool evicted first.
    /// </summary>
    void AddSecondHandAddresses(PeerId peer, IEnumerable<Multiaddr> addresses, TimeSpan ttl) => AddAddresses(peer, addresses, ttl);

    /// <summary>Protects a peer from eviction under <paramref name="tag"/> (e.g. it is connected or in a routing table).</summary>
    void Protect(PeerId peer, string tag)
    {
    }

    /// <summary>Drops one protection tag; true when the peer is still protected by another tag.</summary>
    bool Unprotect(PeerId peer, string tag) => false;
}
