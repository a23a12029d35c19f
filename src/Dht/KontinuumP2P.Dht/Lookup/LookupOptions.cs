namespace KontinuumP2P.Dht.Lookup;

/// <summary>When a closest-peers lookup may stop.</summary>
public enum LookupTermination
{
    /// <summary>Stop once the β closest peers seen (failed ones skipped) have all answered (go-libp2p semantics).</summary>
    Beta,
    /// <summary>Stop only once the k closest peers seen have all answered.</summary>
    StrictKClosest,
}

/// <summary>Parameters of one lookup.</summary>
public sealed record LookupOptions
{
    /// <summary>Number of results wanted (Kademlia k).</summary>
    public int ResultCount { get; init; } = 20;

    /// <summary>Most requests in flight at once (α), over all disjoint paths together.</summary>
    public int Parallelism { get; init; } = 10;

    /// <summary>How many of the closest peers must have answered to stop in <see cref="LookupTermination.Beta"/> mode.</summary>
    public int Beta { get; init; } = 3;

    /// <summary>The stopping rule.</summary>
    public LookupTermination Termination { get; init; } = LookupTermination.Beta;

    /// <summary>Time after which an unanswered request counts as failed.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time after which the whole lookup stops with what it has.</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Number of disjoint paths (S/Kademlia); 1 = an ordinary lookup.</summary>
    public int DisjointPaths { get; init; } = 1;

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ResultCount, 1, nameof(ResultCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(Parallelism, 1, nameof(Parallelism));
        ArgumentOutOfRangeException.ThrowIfLessThan(Beta, 1, nameof(Beta));
        ArgumentOutOfRangeException.ThrowIfLessThan(DisjointPaths, 1, nameof(DisjointPaths));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(DisjointPaths, Parallelism, nameof(DisjointPaths));
        if (RequestTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RequestTimeout));
        if (QueryTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(QueryTimeout));
    }
}

/// <summary>What one lookup cost.</summary>
/// <param name="Hops">Path length to the closest peer that answered (1 = it came from our routing table).</param>
/// <param name="Requests">Requests sent.</param>
/// <param name="Successes">Requests answered.</param>
/// <param name="Failures">Requests failed or timed out.</param>
/// <param name="Duration">Wall (or virtual) time from start to finish.</param>
public sealed record LookupStatistics(int Hops, int Requests, int Successes, int Failures, TimeSpan Duration);
