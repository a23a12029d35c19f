using Tomlyn.Serialization;

namespace KontinuumP2P.Simulations.Scenarios;

// The TOML shape of a scenario file (snake_case keys). Unknown keys land in Unknown and are reported by name.
// Mutable because the serializer fills them; ScenarioLoader turns them into a validated Scenario.
#pragma warning disable CA2227, CA1002 // serializer-filled settings objects

/// <summary>A scenario file as written.</summary>
public sealed class ScenarioFile
{
    /// <summary>Short name (used in output file names).</summary>
    public string? Name { get; set; }

    /// <summary>What the scenario shows.</summary>
    public string? Description { get; set; }

    /// <summary>Seed of every random choice.</summary>
    public long Seed { get; set; } = 1;

    /// <summary>Nodes in the network (attackers included).</summary>
    public int Nodes { get; set; } = 200;

    /// <summary>Link properties.</summary>
    public NetworkSection Network { get; set; } = new();

    /// <summary>DHT parameters.</summary>
    public DhtSection Dht { get; set; } = new();

    /// <summary>How the network forms.</summary>
    public JoinSection Join { get; set; } = new();

    /// <summary>The measured lookups.</summary>
    public LookupsSection Lookups { get; set; } = new();

    /// <summary>Nodes leaving and joining.</summary>
    public ChurnSection? Churn { get; set; }

    /// <summary>A partition and its healing.</summary>
    public PartitionSection? Partition { get; set; }

    /// <summary>Attackers.</summary>
    public AdversarySection? Adversary { get; set; }

    /// <summary>A CRL issued during the run.</summary>
    public CrlSection? Crl { get; set; }

    /// <summary>Tier 0.</summary>
    public AuthoritySection Authority { get; set; } = new();

    /// <summary>Sampling of the timeline.</summary>
    public ReportSection Report { get; set; } = new();

    /// <summary>A fleet-health run (mailboxes, devices, HQ) instead of DHT lookups.</summary>
    public FleetSection? Fleet { get; set; }

    /// <summary>Keys the file has that the scenario does not know.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }
}

/// <summary>[network]</summary>
public sealed class NetworkSection
{
    /// <summary>Smallest one-way link latency.</summary>
    public double MinLatencyMs { get; set; } = 10;

    /// <summary>Largest one-way link latency.</summary>
    public double MaxLatencyMs { get; set; } = 150;

    /// <summary>Per-message jitter.</summary>
    public double JitterMs { get; set; } = 10;

    /// <summary>Message loss probability.</summary>
    public double Loss { get; set; }

    /// <summary>Link bandwidth.</summary>
    public double BandwidthMbps { get; set; } = 10;

    /// <summary>Send every kad message through the real protobuf codec (off: objects are handed over with their exact size).</summary>
    public bool Codec { get; set; }

    /// <summary>Unknown keys.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }
}

/// <summary>[dht]</summary>
public sealed class DhtSection
{
    /// <summary>Requests in flight per lookup (α).</summary>
    public int Alpha { get; set; } = 10;

    /// <summary>Closest peers that must answer (β).</summary>
    public int Beta { get; set; } = 3;

    /// <summary>Disjoint paths d; several values run the scenario once per value.</summary>
    public List<int> DisjointPaths { get; set; } = [1];

    /// <summary>Routing-table refresh interval.</summary>
    public double RefreshMinutes { get; set; } = 10;

    /// <summary>Per-request timeout.</summary>
    public double RequestTimeoutSeconds { get; set; } = 10;

    /// <summary>Whole-lookup deadline.</summary>
    public double QueryTimeoutSeconds { get; set; } = 60;

    /// <summary>Unknown keys.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }
}

/// <summary>[join]</summary>
public sealed class JoinSection
{
    /// <summary>Genesis nodes: they start first and are everyone's bootstrap list.</summary>
    public int BootstrapNodes { get; set; } = 5;

    /// <summary>Time between two joins.</summary>
    public double IntervalMs { get; set; } = 500;

    /// <summary>Quiet time after the last join before measuring.</summary>
    public double SettleMinutes { get; set; } = 15;

    /// <summary>Unknown keys.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }
}

/// <summary>[lookups]</summary>
public sealed class LookupsSection
{
    /// <summary>Length of the measured phase.</summary>
    public double Minutes { get; set; } = 30;

    /// <summary>Lookups started per simulated minute (all nodes together).</summary>
    public double PerMinute { get; set; } = 30;

    /// <summary><c>find_peer</c> (FIND_NODE walk for a node's id) or <c>get_record</c> (GET of its <c>/node/</c> record).</summary>
    public string Kind { get; set; } = "find_peer";

    /// <summary>find_peer only: dial a found node to confirm it is reachable (both success figures are reported).</summary>
    public bool Confirm { get; set; }

    /// <summary>Unknown keys.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }
}

/// <summary>[churn]</summary>
public sealed class ChurnSection
{
    /// <summary>Share of the nodes replaced per simulated hour (0.2 = 20%).</summary>
    public double PerHour { get; set; }

    /// <summary>Unknown keys.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }
}

/// <summary>[partition]</summary>
public sealed class PartitionSection
{
    /// <summary>Minute of the measured phase at which the network splits.</summary>
    public double StartMinute { get; set; } = 5;

    /// <summary>Minute at which it heals.</summary>
    public double HealMinute { get; set; } = 15;

    /// <summary>Share of nodes cut off from the rest.</summary>
    public double Fraction { get; set; } = 0.5;

    /// <summary>Unknown keys.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }
}

/// <summary>[adversary]</summary>
public sealed class AdversarySection
{
    /// <summary><c>uncertified</c>, <c>revoked</c>, <c>poisoner</c> or <c>withholder</c>.</summary>
    public string Role { get; set; } = "poisoner";

    /// <summary>Shares of attackers among all nodes; several values run the scenario once per value.</summary>
    public List<double> Fractions { get; set; } = [0.2];

    /// <summary>Unknown keys.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }
}

/// <summary>[crl]</summary>
public sealed class CrlSection
{
    /// <summary>Minute of the measured phase at which Tier 0 issues the new CRL (published by a genesis node).</summary>
    public double AtMinute { get; set; } = 2;

    /// <summary>Certified nodes the new CRL revokes.</summary>
    public int Revoke { get; set; } = 5;

    /// <summary>How often honest nodes fetch the CRL.</summary>
    public double RefreshMinutes { get; set; } = 10;

    /// <summary>Unknown keys.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }
}

/// <summary>[authority]</summary>
public sealed class AuthoritySection
{
    /// <summary>Anchor keys.</summary>
    public int Anchors { get; set; } = 5;

    /// <summary>Signatures required on certificates and CRLs.</summary>
    public int Threshold { get; set; } = 3;

    /// <summary>Unknown keys.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }
}

/// <summary>[report]</summary>
public sealed class ReportSection
{
    /// <summary>Timeline resolution (routing-table health, success rate).</summary>
    public double SampleMinutes { get; set; } = 5;

    /// <summary>Unknown keys.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }
}
