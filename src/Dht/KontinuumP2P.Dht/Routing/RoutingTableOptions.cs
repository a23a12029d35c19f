namespace KontinuumP2P.Dht.Routing;

/// <summary>Limits of the routing table.</summary>
public sealed record RoutingTableOptions
{
    /// <summary>Entries per bucket (Kademlia k).</summary>
    public int BucketSize { get; init; } = 20;

    /// <summary>Verified peers kept per bucket to replace evicted entries.</summary>
    public int ReplacementCacheSize { get; init; } = 5;

    /// <summary>Whether the IP-group diversity limits apply at all.</summary>
    public bool DiversityLimitsEnabled { get; init; } = true;

    /// <summary>Whether loopback addresses count as a group (off by default so local tests are not limited).</summary>
    public bool ApplyDiversityToLoopback { get; init; }

    /// <summary>Most entries sharing one IP group (IPv4 /16, IPv6 /32) in the whole table.</summary>
    public int MaxPerGroupPerTable { get; init; } = 3;

    /// <summary>
    /// Whether the deep buckets (those that may hold our k closest peers) keep the closest peers rather than the
    /// longest-lived: a closer peer that answered displaces the farthest entry, and eviction promotes the closest
    /// replacement. The other buckets keep Kademlia's least-recently-seen policy.
    /// </summary>
    public bool ClosestFirstDeepBuckets { get; init; } = true;

    /// <summary>Most entries sharing one IP group in one bucket.</summary>
    public int MaxPerGroupPerBucket { get; init; } = 2;
}
