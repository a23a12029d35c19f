using KontinuumP2P.Core.Resources;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Node.Configuration;

public static partial class NodeConfigResolver
{
    // A connection's Noise receive buffers (~1.2 MiB) are charged when it opens, plus room for a yamux window.
    private const long MinConnectionMemory = 2L << 20;

    // A largest mailbox or content frame (1 MiB + 64 KiB) is charged as the 2 MiB pooled array that holds it.
    private const long MinStreamMemory = 2L << 20;

    private static (NodeLimits Host, TimeSpan MaxCrlStaleness) ResolveLimits(LimitsSection s)
    {
        var host = new NodeLimits
        {
            MaxConnections = Positive("limits.max_connections", s.MaxConnections),
            MaxInboundConnections = Positive("limits.max_inbound_connections", s.MaxInboundConnections),
            MaxOutboundConnections = Positive("limits.max_outbound_connections", s.MaxOutboundConnections),
            OutboundReserve = s.OutboundReserve >= 0 ? Int("limits.outbound_reserve", s.OutboundReserve)
                : throw new NodeConfigException("limits.outbound_reserve", $"limits.outbound_reserve: {s.OutboundReserve} is negative"),
            MaxPendingInboundHandshakes = Positive("limits.max_pending_inbound_handshakes", s.MaxPendingInboundHandshakes),
            MaxPendingHandshakesPerSubnet = Positive("limits.max_pending_handshakes_per_subnet", s.MaxPendingHandshakesPerSubnet),
            MaxConnectionsPerIp = Positive("limits.max_connections_per_ip", s.MaxConnectionsPerIp),
            PeerStoreCapacity = Positive("limits.peer_store_capacity", s.PeerStoreCapacity),
            PeerStoreSecondHandCapacity = Positive("limits.peer_store_second_hand_capacity", s.PeerStoreSecondHandCapacity),
            SecondHandAddressTtl = ConfigDuration.Parse("limits.second_hand_address_ttl", s.SecondHandAddressTtl, MinInterval, TimeSpan.FromDays(1)),
            StreamCloseTimeout = ConfigDuration.Parse("limits.stream_close_timeout", s.StreamCloseTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            Resources = new ResourceManagerOptions
            {
                System = new(Positive("limits.system_streams", s.SystemStreams), Bytes("limits.system_memory", s.SystemMemory, MinConnectionMemory)),
                Peer = new(Positive("limits.peer_streams", s.PeerStreams), Bytes("limits.peer_memory", s.PeerMemory, MinConnectionMemory)),
                Protocol = new(Positive("limits.protocol_streams", s.ProtocolStreams), Bytes("limits.protocol_memory", s.ProtocolMemory, MinStreamMemory)),
                Connection = new(Positive("limits.connection_streams", s.ConnectionStreams), Bytes("limits.connection_memory", s.ConnectionMemory, MinConnectionMemory)),
                Stream = new(1, Bytes("limits.stream_memory", s.StreamMemory, MinStreamMemory)),
            },
        };
        NotAbove("limits.max_inbound_connections", s.MaxInboundConnections, "limits.max_connections", s.MaxConnections);
        NotAbove("limits.max_outbound_connections", s.MaxOutboundConnections, "limits.max_connections", s.MaxConnections);
        NotAbove("limits.outbound_reserve", s.OutboundReserve, "half of limits.max_connections", s.MaxConnections / 2);
        NotAbove("limits.max_pending_inbound_handshakes", s.MaxPendingInboundHandshakes, "limits.max_inbound_connections", s.MaxInboundConnections);
        NotAbove("limits.max_pending_handshakes_per_subnet", s.MaxPendingHandshakesPerSubnet, "limits.max_pending_inbound_handshakes", s.MaxPendingInboundHandshakes);
        NotAbove("limits.max_connections_per_ip", s.MaxConnectionsPerIp, "limits.max_inbound_connections", s.MaxInboundConnections);
        // A scope inside another can never hold more than it.
        NotAbove("limits.peer_streams", s.PeerStreams, "limits.system_streams", s.SystemStreams);
        NotAbove("limits.protocol_streams", s.ProtocolStreams, "limits.system_streams", s.SystemStreams);
        NotAbove("limits.connection_streams", s.ConnectionStreams, "limits.peer_streams", s.PeerStreams);
        NotAbove("limits.peer_memory", s.PeerMemory, "limits.system_memory", s.SystemMemory);
        NotAbove("limits.protocol_memory", s.ProtocolMemory, "limits.system_memory", s.SystemMemory);
        NotAbove("limits.connection_memory", s.ConnectionMemory, "limits.peer_memory", s.PeerMemory);
        NotAbove("limits.stream_memory", s.StreamMemory, "limits.connection_memory", s.ConnectionMemory);
        NotAbove("limits.stream_memory", s.StreamMemory, "limits.protocol_memory", s.ProtocolMemory);
        var staleness = s.MaxCrlStaleness.Trim() == "off"
            ? Timeout.InfiniteTimeSpan
            : ConfigDuration.Parse("limits.max_crl_staleness", s.MaxCrlStaleness, TimeSpan.FromMinutes(1), TimeSpan.FromDays(365));
        return (host, staleness);
    }

    private static int Positive(string key, long value) =>
        value >= 1 ? Int(key, value) : throw new NodeConfigException(key, $"{key}: {value} must be at least 1");

    private static long Bytes(string key, long value, long min) =>
        value >= min ? value : throw new NodeConfigException(key, $"{key}: {value} bytes is below the {min}-byte minimum (a connection's Noise buffers or one largest frame would not fit)");

    private static void NotAbove(string key, long value, string limitKey, long limit)
    {
        if (value > limit) throw new NodeConfigException(key, $"{key}: {value} is more than {limitKey} ({limit})");
    }
}
