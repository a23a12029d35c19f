using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Routing;

namespace KontinuumP2P.Dht;

/// <summary>Whether a node serves the DHT.</summary>
public enum DhtMode
{
    /// <summary>Answers kad requests, advertises the protocol and can enter routing tables.</summary>
    Server,
    /// <summary>Only queries: no handler, never in anyone's routing table.</summary>
    Client,
}

/// <summary>What the admission layer says about a peer.</summary>
public enum PeerAdmissionState
{
    /// <summary>Not decided yet (e.g. its certificate is still on the way).</summary>
    Pending,
    /// <summary>May enter the routing table and be served.</summary>
    Admitted,
    /// <summary>May send requests but never enters the routing table (a client without a certificate).</summary>
    QueryOnly,
    /// <summary>Neither enters the routing table nor is served.</summary>
    Refused,
}

/// <summary>
/// Decides whether a peer may enter our routing table and have its requests served (default: everyone). The
/// certificate layer plugs in here; its verdicts arrive shortly after a connection, so the DHT waits for pending ones.
/// </summary>
public interface IPeerAdmission
{
    /// <summary>The decision now, without waiting.</summary>
    PeerAdmissionState GetState(PeerId peer);

    /// <summary>The decision once it is no longer pending (the implementation bounds the wait).</summary>
    ValueTask<PeerAdmissionState> WaitForDecisionAsync(PeerId peer, CancellationToken cancellationToken);
}

/// <summary>Admits every peer.</summary>
public sealed class AllowAllPeers : IPeerAdmission
{
    /// <inheritdoc />
    public PeerAdmissionState GetState(PeerId peer) => PeerAdmissionState.Admitted;

    /// <inheritdoc />
    public ValueTask<PeerAdmissionState> WaitForDecisionAsync(PeerId peer, CancellationToken cancellationToken) =>
        ValueTask.FromResult(PeerAdmissionState.Admitted);
}

/// <summary>Settings of a <see cref="DhtNode"/>.</summary>
public sealed record DhtOptions
{
    /// <summary>The Kontinuum kad protocol id (the default).</summary>
    public const string KontinuumProtocolId = "/kontinuum/kad/1.0.0";

    /// <summary>The public libp2p (IPFS Amino) kad protocol id, for interop tests.</summary>
    public const string IpfsProtocolId = "/ipfs/kad/1.0.0";

    /// <summary>The kad protocol id spoken.</summary>
    public string ProtocolId { get; init; } = KontinuumProtocolId;

    /// <summary>Seed of the node's random choices (refresh keys); null draws a fresh seed.</summary>
    public int? RandomSeed { get; init; }

    /// <summary>Server or client.</summary>
    public DhtMode Mode { get; init; } = DhtMode.Server;

    /// <summary>Peers (with <c>/p2p/</c>) contacted at start.</summary>
    public IReadOnlyList<Multiaddr> BootstrapPeers { get; init; } = [];

    /// <summary>Routing-table limits (k is <see cref="RoutingTableOptions.BucketSize"/>).</summary>
    public RoutingTableOptions RoutingTable { get; init; } = new();

    /// <summary>Lookup parameters (α, β, termination, timeouts, disjoint paths).</summary>
    public LookupOptions Lookup { get; init; } = new();

    /// <summary>Validators by namespace (<c>/pk/</c> built in).</summary>
    public RecordValidators Validators { get; init; } = new();

    /// <summary>Admission predicate (the certificate layer plugs in here).</summary>
    public IPeerAdmission Admission { get; init; } = new AllowAllPeers();

    /// <summary>
    /// Whether a peer may announce itself as a provider of a key (default: anyone). The certificate layer allows only
    /// admitted peers whose certificate carries the capability the key needs.
    /// </summary>
    public Func<PeerId, ReadOnlyMemory<byte>, bool> MayProvide { get; init; } = static (_, _) => true;

    /// <summary>Sustained kad requests served per peer per second (beyond the burst, requests reset their stream).</summary>
    public double RequestsPerPeerPerSecond { get; init; } = 50;

    /// <summary>Kad requests a peer may send at once before <see cref="RequestsPerPeerPerSecond"/> applies.</summary>
    public int RequestBurstPerPeer { get; init; } = 200;

    /// <summary>Most addresses kept from one provider announcement.</summary>
    public int MaxProviderAddresses { get; init; } = 16;

    /// <summary>Valid answers a GET collects before it stops (the local copy does not count).</summary>
    public int GetQuorum { get; init; } = 3;

    /// <summary>How long a received record is kept.</summary>
    public TimeSpan RecordTtl { get; init; } = TimeSpan.FromHours(48);

    /// <summary>How long a provider announcement is kept.</summary>
    public TimeSpan ProviderTtl { get; init; } = TimeSpan.FromHours(48);

    /// <summary>How often our own records and provider records are republished.</summary>
    public TimeSpan RepublishInterval { get; init; } = TimeSpan.FromHours(22);

    /// <summary>How often the self lookup and the per-bucket random lookups run.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often expired records are dropped.</summary>
    public TimeSpan ExpiryInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Granularity of the maintenance loop (and the quickest refresh when the table runs low).</summary>
    public TimeSpan MaintenanceTick { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Below this many entries the table counts as low and is refreshed at the next tick.</summary>
    public int LowTableThreshold { get; init; } = 20;

    /// <summary>How long an inbound kad stream may stay idle between requests.</summary>
    public TimeSpan InboundIdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Most providers returned by one GET_PROVIDERS answer and by default from a provider search.</summary>
    public int MaxProvidersPerAnswer { get; init; } = 20;

    /// <summary>Candidates (learnt from inbound requests or identify) waiting for verification; more are dropped.</summary>
    public int VerificationQueueSize { get; init; } = 256;
}
