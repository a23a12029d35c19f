using KontinuumP2P.Core.Resources;

namespace KontinuumP2P.Node.Hosting;

/// <summary>
/// The node's host bounds (<c>[limits]</c> in node.toml): each null keeps the host's default (see
/// <see cref="KontinuumP2P.Net.Hosting.PeerHostOptions"/>). The stale-CRL bound is in
/// <see cref="Admission.AdmissionLimits.MaxCrlStaleness"/>.
/// </summary>
public sealed record NodeLimits
{
    /// <summary>Most connections in total.</summary>
    public int? MaxConnections { get; init; }

    /// <summary>Most inbound connections.</summary>
    public int? MaxInboundConnections { get; init; }

    /// <summary>Most outbound connections.</summary>
    public int? MaxOutboundConnections { get; init; }

    /// <summary>Connection slots kept for our own dials.</summary>
    public int? OutboundReserve { get; init; }

    /// <summary>Most inbound connections in their handshake.</summary>
    public int? MaxPendingInboundHandshakes { get; init; }

    /// <summary>Most inbound handshakes from one IPv4 /24 or IPv6 /64.</summary>
    public int? MaxPendingHandshakesPerSubnet { get; init; }

    /// <summary>Most inbound connections from one IPv4 address or IPv6 /64.</summary>
    public int? MaxConnectionsPerIp { get; init; }

    /// <summary>Peers known first-hand the peer store keeps.</summary>
    public int? PeerStoreCapacity { get; init; }

    /// <summary>Peers known second-hand the peer store keeps.</summary>
    public int? PeerStoreSecondHandCapacity { get; init; }

    /// <summary>Longest lifetime of an address learnt second-hand.</summary>
    public TimeSpan? SecondHandAddressTtl { get; init; }

    /// <summary>How long a stream we closed waits for the peer's close before it is reset (yamux; frees its scope).</summary>
    public TimeSpan? StreamCloseTimeout { get; init; }

    /// <summary>Limits of the resource scopes (system, peer, protocol, connection, stream).</summary>
    public ResourceManagerOptions? Resources { get; init; }
}
