namespace KontinuumP2P.Node.Configuration;

/// <summary>
/// <c>[limits]</c>: the bounds that keep hostile peers from exhausting the node (issue #11): connection budgets,
/// pending handshakes, the peer store's pools, the resource scopes and the stale-CRL policy. Sizes are bytes;
/// durations take a unit. The defaults are the host's.
/// </summary>
public sealed class LimitsSection
{
    /// <summary>Most upgraded or upgrading connections in total.</summary>
    public long MaxConnections { get; set; } = 512;

    /// <summary>Most inbound connections.</summary>
    public long MaxInboundConnections { get; set; } = 448;

    /// <summary>Most outbound connections.</summary>
    public long MaxOutboundConnections { get; set; } = 256;

    /// <summary>Slots of <see cref="MaxConnections"/> inbound connections may never take (at most half).</summary>
    public long OutboundReserve { get; set; } = 64;

    /// <summary>Most inbound connections still in their handshake.</summary>
    public long MaxPendingInboundHandshakes { get; set; } = 128;

    /// <summary>Most inbound handshakes in progress from one IPv4 /24 or IPv6 /64.</summary>
    public long MaxPendingHandshakesPerSubnet { get; set; } = 16;

    /// <summary>Most inbound connections from one IPv4 address or IPv6 /64.</summary>
    public long MaxConnectionsPerIp { get; set; } = 16;

    /// <summary>Peers known first-hand the peer store keeps.</summary>
    public long PeerStoreCapacity { get; set; } = 10_000;

    /// <summary>Peers known only second-hand (kad answers, mDNS, bootstrap lists) the peer store keeps.</summary>
    public long PeerStoreSecondHandCapacity { get; set; } = 2_500;

    /// <summary>Longest lifetime of an address learnt second-hand.</summary>
    public string SecondHandAddressTtl { get; set; } = "10m";

    /// <summary>How long a stream we closed waits for the peer's close before it is reset.</summary>
    public string StreamCloseTimeout { get; set; } = "5m";

    /// <summary>How long the CRL may be past its next_update before new certificates are refused (<c>crl-stale</c>).</summary>
    public string MaxCrlStaleness { get; set; } = "3d";

    /// <summary>Streams the whole node holds.</summary>
    public long SystemStreams { get; set; } = 8192;

    /// <summary>Bytes the whole node reserves (connection buffers, unread stream data, large frames).</summary>
    public long SystemMemory { get; set; } = 1L << 30;

    /// <summary>Streams every connection to one peer together holds.</summary>
    public long PeerStreams { get; set; } = 1024;

    /// <summary>Bytes every connection to one peer together reserves.</summary>
    public long PeerMemory { get; set; } = 128L << 20;

    /// <summary>Inbound streams of one protocol across all peers.</summary>
    public long ProtocolStreams { get; set; } = 4096;

    /// <summary>Bytes one protocol's handlers reserve across all peers.</summary>
    public long ProtocolMemory { get; set; } = 512L << 20;

    /// <summary>Streams one connection holds.</summary>
    public long ConnectionStreams { get; set; } = 1024;

    /// <summary>Bytes one connection reserves (its Noise buffers, about 1.2 MiB, included).</summary>
    public long ConnectionMemory { get; set; } = 64L << 20;

    /// <summary>Bytes one inbound stream's handler reserves (large mailbox frames, content chunks).</summary>
    public long StreamMemory { get; set; } = 16L << 20;
}
