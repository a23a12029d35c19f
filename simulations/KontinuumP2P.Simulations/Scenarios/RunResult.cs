namespace KontinuumP2P.Simulations.Scenarios;

/// <summary>One measured lookup.</summary>
/// <param name="Variant">The run it belongs to.</param>
/// <param name="StartMinute">Start, in minutes since the measured phase began.</param>
/// <param name="Origin">Number of the node that looked up.</param>
/// <param name="Target">Number of the node looked for.</param>
/// <param name="Success">Whether it found the node (find_peer) or a valid record of it (get_record).</param>
/// <param name="Hops">Path length reported by the lookup (-1 when the API does not report it).</param>
/// <param name="Requests">Requests sent (-1 when not reported).</param>
/// <param name="Failures">Requests that failed or timed out (-1 when not reported).</param>
/// <param name="LatencyMs">Virtual time from start to result.</param>
/// <param name="Reachable">With <c>[lookups] confirm</c>: whether a found node was then reached by a dial (null otherwise).</param>
public sealed record LookupSample(string Variant, double StartMinute, int Origin, int Target, bool Success, int Hops, int Requests, int Failures, double LatencyMs,
    bool? Reachable = null);

/// <summary>The state of the network at one instant.</summary>
/// <param name="Variant">The run.</param>
/// <param name="Minute">Minutes since the measured phase began (negative while joining).</param>
/// <param name="Online">Nodes attached.</param>
/// <param name="HonestOnline">Honest nodes attached (revoked ones excluded).</param>
/// <param name="RoutingHealth">Share of honest nodes whose table holds all k of their closest eligible peers.</param>
/// <param name="MeanTableSize">Mean routing-table size of honest nodes.</param>
/// <param name="BadEntries">Entries of uncertified or revoked ids in honest tables (revoked by the node's own CRL).</param>
/// <param name="CrlHolders">Honest nodes holding the newest CRL.</param>
public sealed record TimelineSample(string Variant, double Minute, int Online, int HonestOnline, double RoutingHealth, double MeanTableSize,
    int BadEntries, int CrlHolders);

/// <summary>The process's memory at one timeline point (machine figures: not reproducible, reported apart).</summary>
/// <param name="Variant">The run.</param>
/// <param name="Minute">The timeline point's minute (negative while joining).</param>
/// <param name="WallSeconds">Wall time since the run started.</param>
/// <param name="CpuSeconds">Process CPU time so far.</param>
/// <param name="HeapBytes">Managed heap size at the last collection (<see cref="GCMemoryInfo.HeapSizeBytes"/>, garbage included).</param>
/// <param name="LiveAfterFullBytes">Bytes that survived the last full blocking collection (the live heap then; 0 before the first).</param>
/// <param name="FragmentedBytes">Free space inside the heap at the last collection.</param>
/// <param name="CommittedBytes">Memory the collector has committed.</param>
/// <param name="WorkingSetBytes">The process's working set now.</param>
/// <param name="Gen2Collections">Full collections so far.</param>
/// <param name="AdmissionEntries">Admission entries of all nodes (connected peers, which in a simulation are all peers met, and remembered ones).</param>
/// <param name="NumberedPairs">Per-pair message numbers of all nodes (one per peer a node ever sent to).</param>
/// <param name="AddressEntries">Address-book entries of all nodes.</param>
public sealed record MemorySample(string Variant, double Minute, double WallSeconds, double CpuSeconds, long HeapBytes, long LiveAfterFullBytes,
    long FragmentedBytes, long CommittedBytes, long WorkingSetBytes, int Gen2Collections, long AdmissionEntries, long NumberedPairs, long AddressEntries);

/// <summary>Everything one run (one variant of a scenario) produced.</summary>
public sealed class RunResult
{
    /// <summary>Creates an empty result for <paramref name="variant"/>.</summary>
    public RunResult(string variant) => Variant = variant;

    /// <summary>The variant label (e.g. <c>attackers=0.2 d=3</c>).</summary>
    public string Variant { get; }

    /// <summary>Measured lookups, in start order.</summary>
    public List<LookupSample> Lookups { get; } = [];

    /// <summary>The timeline.</summary>
    public List<TimelineSample> Timeline { get; } = [];

    /// <summary>The process's memory at each timeline point (not reproducible: written to <c>memory.csv</c>).</summary>
    public List<MemorySample> Memory { get; } = [];

    /// <summary>The fleet timeline (fleet-health runs only).</summary>
    public List<Fleet.FleetSample> FleetTimeline { get; } = [];

    /// <summary>Figures that depend only on the scenario and seed (compared across runs), in report order.</summary>
    public List<KeyValuePair<string, double>> Metrics { get; } = [];

    /// <summary>Figures of the machine that ran it (wall time, memory): not reproducible, reported apart.</summary>
    public List<KeyValuePair<string, double>> Performance { get; } = [];

    /// <summary>A deterministic figure by name (NaN when absent).</summary>
    public double Metric(string name) => Metrics.FirstOrDefault(m => m.Key == name) is { Key: not null } m ? m.Value : double.NaN;
}
