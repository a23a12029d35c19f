using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Net.Hosting;

/// <summary>Everything a <see cref="PeerHost"/> is built from. Limits are explicit; defaults follow js-libp2p where it has one.</summary>
public sealed class PeerHostOptions
{
    /// <summary>The host's identity key. The host does not dispose it.</summary>
    public required Ed25519Identity Identity { get; init; }

    /// <summary>The transports, tried in order for each address.</summary>
    public IReadOnlyList<ITransport> Transports { get; init; } = [];

    /// <summary>Addresses to listen on when the host starts.</summary>
    public IReadOnlyList<Multiaddr> ListenAddresses { get; init; } = [];

    /// <summary>Noise settings of the default security step; null gives defaults on <see cref="TimeProvider"/>.</summary>
    public NoiseOptions? NoiseOptions { get; init; }

    /// <summary>Yamux settings of the default muxer; null gives defaults on <see cref="TimeProvider"/>.</summary>
    public YamuxOptions? YamuxOptions { get; init; }

    /// <summary>The security step; null means Noise with the host identity and <see cref="NoiseOptions"/>.</summary>
    public IConnectionSecurity? Security { get; init; }

    /// <summary>The muxer; null means Yamux with <see cref="YamuxOptions"/>.</summary>
    public IStreamMuxerFactory? Muxer { get; init; }

    /// <summary>Most upgraded or upgrading connections in total; further inbound ones are closed right after accept.</summary>
    public int MaxConnections { get; init; } = 512;

    /// <summary>Most upgraded or upgrading inbound connections.</summary>
    public int MaxInboundConnections { get; init; } = 448;

    /// <summary>Most upgraded or upgrading outbound connections.</summary>
    public int MaxOutboundConnections { get; init; } = 256;

    /// <summary>
    /// Slots of <see cref="MaxConnections"/> inbound connections may never take, so a flood of inbound connections
    /// cannot stop our own dials (DHT lookups, CRL refresh). At most half of <see cref="MaxConnections"/> is reserved.
    /// </summary>
    public int OutboundReserve { get; init; } = 64;

    /// <summary>Most inbound connections still in their handshake (each holds a slot for up to <see cref="HandshakeTimeout"/>).</summary>
    public int MaxPendingInboundHandshakes { get; init; } = 128;

    /// <summary>Most inbound handshakes in progress from one /24 (IPv4) or /64 (IPv6); loopback only when <see cref="LimitLoopbackPerIp"/>.</summary>
    public int MaxPendingHandshakesPerSubnet { get; init; } = 16;

    /// <summary>Most inbound connections from one remote IPv4 address or IPv6 /64.</summary>
    public int MaxConnectionsPerIp { get; init; } = 16;

    /// <summary>
    /// Whether <see cref="MaxConnectionsPerIp"/> and <see cref="MaxPendingHandshakesPerSubnet"/> also count loopback peers. Off by default: local devnets and tests
    /// run many peers on 127.0.0.1 and ::1.
    /// </summary>
    public bool LimitLoopbackPerIp { get; init; }

    /// <summary>Most concurrently open inbound streams on one connection; more are reset at once.</summary>
    public int MaxInboundStreamsPerConnection { get; init; } = 512;

    /// <summary>Most concurrently open inbound streams of one protocol on one connection (js: 32); more are reset after negotiation.</summary>
    public int MaxInboundStreamsPerProtocol { get; init; } = 32;

    /// <summary>Per-protocol overrides of <see cref="MaxInboundStreamsPerProtocol"/>.</summary>
    public IReadOnlyDictionary<string, int> InboundStreamLimits { get; init; } = new Dictionary<string, int>();

    /// <summary>A connection without streams for this long is closed; <see cref="Timeout.InfiniteTimeSpan"/> disables it.</summary>
    public TimeSpan IdleConnectionTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Bound on the whole upgrade (multistream, Noise, muxer selection) of one connection.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bound on protocol negotiation of one stream.</summary>
    public TimeSpan StreamNegotiationTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Run identify on every new connection.</summary>
    public bool IdentifyOnConnect { get; init; } = true;

    /// <summary>How long addresses learnt from identify stay valid.</summary>
    public TimeSpan IdentifiedAddressTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Most peers known first-hand the peer store keeps (least recently updated unprotected ones are forgotten first).</summary>
    public int PeerStoreCapacity { get; init; } = 10_000;

    /// <summary>Most peers known only from what others said (kad answers, mDNS) the peer store keeps, apart from the first-hand ones.</summary>
    public int PeerStoreSecondHandCapacity { get; init; } = 2_500;

    /// <summary>Longest lifetime of an address learnt second-hand.</summary>
    public TimeSpan SecondHandAddressTtl { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Limits of the resource scopes (system, peer, protocol, connection); null gives the defaults.</summary>
    public KontinuumP2P.Core.Resources.ResourceManagerOptions? ResourceLimits { get; init; }

    /// <summary>The agent version sent in identify; null means <c>kontinuum/&lt;assembly version&gt;</c>.</summary>
    public string? AgentVersion { get; init; }

    /// <summary>The clock of the host and its timeouts.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where logs go.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Where metrics go; null gives the host a private meter nobody listens to.</summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Identity);
        if (Transports.Count == 0) throw new ArgumentException("a host needs at least one transport", nameof(Transports));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnections, 1, nameof(MaxConnections));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnectionsPerIp, 1, nameof(MaxConnectionsPerIp));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInboundConnections, 1, nameof(MaxInboundConnections));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxOutboundConnections, 1, nameof(MaxOutboundConnections));
        ArgumentOutOfRangeException.ThrowIfNegative(OutboundReserve, nameof(OutboundReserve));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPendingInboundHandshakes, 1, nameof(MaxPendingInboundHandshakes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPendingHandshakesPerSubnet, 1, nameof(MaxPendingHandshakesPerSubnet));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInboundStreamsPerConnection, 1, nameof(MaxInboundStreamsPerConnection));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInboundStreamsPerProtocol, 1, nameof(MaxInboundStreamsPerProtocol));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HandshakeTimeout, TimeSpan.Zero, nameof(HandshakeTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StreamNegotiationTimeout, TimeSpan.Zero, nameof(StreamNegotiationTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(PeerStoreCapacity, 1, nameof(PeerStoreCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(PeerStoreSecondHandCapacity, 1, nameof(PeerStoreSecondHandCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SecondHandAddressTtl, TimeSpan.Zero, nameof(SecondHandAddressTtl));
    }
}
