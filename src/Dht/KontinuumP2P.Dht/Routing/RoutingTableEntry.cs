using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Dht.Routing;

/// <summary>An immutable view of one routing-table entry.</summary>
/// <param name="PeerId">The peer.</param>
/// <param name="Addresses">Addresses it was reachable on when last seen.</param>
/// <param name="LastSeen">When it last answered us.</param>
public sealed record RoutingTableEntry(PeerId PeerId, IReadOnlyList<Multiaddr> Addresses, DateTimeOffset LastSeen);

/// <summary>What <see cref="RoutingTable.TryAdd"/> did.</summary>
public enum RoutingTableAddStatus
{
    /// <summary>The peer entered its bucket.</summary>
    Added,
    /// <summary>The peer was already present; its addresses and last-seen time were refreshed.</summary>
    Updated,
    /// <summary>
    /// The bucket is full: the peer waits in the replacement cache and the least-recently-seen entry should be pinged
    /// (remove it when the ping fails, mark it seen when it answers).
    /// </summary>
    BucketFull,
    /// <summary>The IP-group diversity limit refused the peer.</summary>
    RejectedDiversity,
    /// <summary>The peer is ourselves.</summary>
    RejectedSelf,
    /// <summary>
    /// The bucket was full but is a deep one and the peer is closer to us than its farthest entry, which moved to the
    /// replacement cache (reported in <see cref="RoutingTableAddResult.LeastRecentlySeen"/>).
    /// </summary>
    AddedReplacingFarther,
}

/// <summary>Outcome of <see cref="RoutingTable.TryAdd"/>.</summary>
/// <param name="Status">What happened.</param>
/// <param name="LeastRecentlySeen">
/// For <see cref="RoutingTableAddStatus.BucketFull"/>, the entry to ping; for
/// <see cref="RoutingTableAddStatus.AddedReplacingFarther"/>, the entry displaced.
/// </param>
public readonly record struct RoutingTableAddResult(RoutingTableAddStatus Status, PeerId? LeastRecentlySeen = null);
