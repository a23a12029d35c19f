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

    /// <summary>Most entries sharing one IP group in one bucket.</summary>
    public int MaxPerGroupPerBucket { get; init; } = 2;
}
