using KontinuumP2P.Core.Resources;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Node.Tests;

/// <summary>node.toml <c>[limits]</c> (issue #11): every bound round-trips into the node's host, and every bad value is refused naming its key.</summary>
public sealed class NodeLimitsConfigTests
{
    private const string Limits = """

        [limits]
        max_connections = 300
        max_inbound_connections = 200
        max_outbound_connections = 100
        outbound_reserve = 40
        max_pending_inbound_handshakes = 50
        max_pending_handshakes_per_subnet = 5
        max_connections_per_ip = 7
        peer_store_capacity = 3000
        peer_store_second_hand_capacity = 600
        second_hand_address_ttl = "5m"
        stream_close_timeout = "90s"
        max_crl_staleness = "12h"
        system_streams = 4000
        system_memory = 536870912
        peer_streams = 500
        peer_memory = 33554432
        protocol_streams = 2000
        protocol_memory = 268435456
        connection_streams = 250
        connection_memory = 16777216
        stream_memory = 4194304

        """;

    private static readonly Dictionary<string, string> NoEnvironment = [];
    private string _directory = null!;

    [SetUp]
    public void SetUp() => _directory = Directory.CreateTempSubdirectory("kp-limits-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task Every_limit_round_trips_from_node_toml_into_the_nodes_host()
    {
        var path = WriteConfig(Limits, 40400);
        using var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, NoEnvironment), path);
        var options = resolved.Options;
        Assert.That(options.AdmissionLimits.MaxCrlStaleness, Is.EqualTo(TimeSpan.FromHours(12)));

        // The same factory the composition uses for the node's host.
        await using var host = HostNodeTransport.CreateHost(options.Identity!, [], [], new NodeServices(TimeProvider.System, NullLoggerFactory.Instance, null), options.Limits);
        var h = host.Options;
        Assert.Multiple(() =>
        {
            Assert.That((h.MaxConnections, h.MaxInboundConnections, h.MaxOutboundConnections, h.OutboundReserve), Is.EqualTo((300, 200, 100, 40)));
            Assert.That((h.MaxPendingInboundHandshakes, h.MaxPendingHandshakesPerSubnet, h.MaxConnectionsPerIp), Is.EqualTo((50, 5, 7)));
            Assert.That((h.PeerStoreCapacity, h.PeerStoreSecondHandCapacity, h.SecondHandAddressTtl), Is.EqualTo((3000, 600, TimeSpan.FromMinutes(5))));
            Assert.That(h.YamuxOptions?.StreamCloseTimeout, Is.EqualTo(TimeSpan.FromSeconds(90)));
            Assert.That(host.Resources.System.Limits, Is.EqualTo(new ResourceLimits(4000, 512L << 20)));
            Assert.That(host.Resources.Protocol("/kontinuum/mailbox/1.0.0").Limits, Is.EqualTo(new ResourceLimits(2000, 256L << 20)));
        });
        var connection = host.Resources.OpenConnection(options.Identity!.PeerId);
        var stream = host.Resources.OpenStream(connection, host.Resources.Protocol("/p"));
        Assert.That(connection.Limits, Is.EqualTo(new ResourceLimits(250, 16L << 20)));
        Assert.That(stream.Limits.Memory, Is.EqualTo(4L << 20));
        // The peer scope's limit shows in its refusal.
        Assert.That(connection.TryReserveMemory(16L << 20), Is.Null);
        var other = host.Resources.OpenConnection(options.Identity!.PeerId);
        Assert.That(other.TryReserveMemory(16L << 20), Is.Null);
        using var third = host.Resources.OpenConnection(options.Identity!.PeerId);
        Assert.That(third.TryReserveMemory(1), Is.EqualTo("peer-memory"), "two connections of 16 MiB fill the 32 MiB peer scope");
        connection.Dispose();
        other.Dispose();
    }

    [Test]
    public void Without_a_limits_section_the_host_keeps_its_defaults()
    {
        var path = WriteConfig("", 40410);
        using var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, NoEnvironment), path);
        var defaults = new ResourceManagerOptions();
        var resources = resolved.Options.Limits!.Resources!;
        Assert.Multiple(() =>
        {
            Assert.That(resources.System, Is.EqualTo(defaults.System));
            Assert.That(resources.Peer, Is.EqualTo(defaults.Peer));
            Assert.That(resources.Protocol, Is.EqualTo(defaults.Protocol));
            Assert.That(resources.Connection, Is.EqualTo(defaults.Connection));
            Assert.That(resources.Stream, Is.EqualTo(defaults.Stream));
            Assert.That(resolved.Options.AdmissionLimits.MaxCrlStaleness, Is.EqualTo(new Admission.AdmissionLimits().MaxCrlStaleness));
        });
        using var identity = Core.Identity.Ed25519Identity.Generate();
        var host = new Net.Hosting.PeerHostOptions { Identity = identity };
        var limits = resolved.Options.Limits;
        Assert.That((limits.MaxConnections, limits.MaxInboundConnections, limits.MaxOutboundConnections, limits.OutboundReserve, limits.MaxPendingInboundHandshakes,
                limits.MaxPendingHandshakesPerSubnet, limits.MaxConnectionsPerIp, limits.PeerStoreCapacity, limits.PeerStoreSecondHandCapacity, limits.SecondHandAddressTtl),
            Is.EqualTo((host.MaxConnections, host.MaxInboundConnections, host.MaxOutboundConnections, host.OutboundReserve, host.MaxPendingInboundHandshakes,
                host.MaxPendingHandshakesPerSubnet, host.MaxConnectionsPerIp, host.PeerStoreCapacity, host.PeerStoreSecondHandCapacity, host.SecondHandAddressTtl)),
            "the section's defaults are the host's");
    }

    [Test]
    public void Max_crl_staleness_off_fails_open()
    {
        var path = WriteConfig("\n[limits]\nmax_crl_staleness = \"off\"\n", 40420);
        using var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, NoEnvironment), path);
        Assert.That(resolved.Options.AdmissionLimits.MaxCrlStaleness, Is.EqualTo(Timeout.InfiniteTimeSpan));
    }

    [TestCase("max_connections = 0", "limits.max_connections", "at least 1")]
    [TestCase("max_inbound_connections = -5", "limits.max_inbound_connections", "at least 1")]
    [TestCase("max_outbound_connections = 0", "limits.max_outbound_connections", "at least 1")]
    [TestCase("outbound_reserve = -1", "limits.outbound_reserve", "negative")]
    [TestCase("max_pending_inbound_handshakes = 0", "limits.max_pending_inbound_handshakes", "at least 1")]
    [TestCase("max_pending_handshakes_per_subnet = 0", "limits.max_pending_handshakes_per_subnet", "at least 1")]
    [TestCase("max_connections_per_ip = 0", "limits.max_connections_per_ip", "at least 1")]
    [TestCase("peer_store_capacity = 0", "limits.peer_store_capacity", "at least 1")]
    [TestCase("peer_store_second_hand_capacity = -1", "limits.peer_store_second_hand_capacity", "at least 1")]
    [TestCase("system_streams = 0", "limits.system_streams", "at least 1")]
    [TestCase("peer_streams = 0", "limits.peer_streams", "at least 1")]
    [TestCase("protocol_streams = 0", "limits.protocol_streams", "at least 1")]
    [TestCase("connection_streams = 0", "limits.connection_streams", "at least 1")]
    [TestCase("max_connections = 3000000000", "limits.max_connections", "out of range")]
    [TestCase("system_memory = 0", "limits.system_memory", "minimum")]
    [TestCase("peer_memory = -1", "limits.peer_memory", "minimum")]
    [TestCase("protocol_memory = 1024", "limits.protocol_memory", "minimum")]
    [TestCase("connection_memory = 1048576", "limits.connection_memory", "Noise buffers")]
    [TestCase("stream_memory = 1048576", "limits.stream_memory", "minimum")]
    [TestCase("max_inbound_connections = 600", "limits.max_inbound_connections", "more than limits.max_connections (512)")]
    [TestCase("max_outbound_connections = 513", "limits.max_outbound_connections", "more than limits.max_connections")]
    [TestCase("outbound_reserve = 257", "limits.outbound_reserve", "more than half of limits.max_connections (256)")]
    [TestCase("max_pending_inbound_handshakes = 449", "limits.max_pending_inbound_handshakes", "more than limits.max_inbound_connections")]
    [TestCase("max_pending_handshakes_per_subnet = 129", "limits.max_pending_handshakes_per_subnet", "more than limits.max_pending_inbound_handshakes")]
    [TestCase("max_connections_per_ip = 449", "limits.max_connections_per_ip", "more than limits.max_inbound_connections")]
    [TestCase("peer_streams = 9000", "limits.peer_streams", "more than limits.system_streams")]
    [TestCase("protocol_streams = 9000", "limits.protocol_streams", "more than limits.system_streams")]
    [TestCase("connection_streams = 1025", "limits.connection_streams", "more than limits.peer_streams")]
    [TestCase("peer_memory = 2147483648", "limits.peer_memory", "more than limits.system_memory")]
    [TestCase("protocol_memory = 2147483648", "limits.protocol_memory", "more than limits.system_memory")]
    [TestCase("connection_memory = 268435456", "limits.connection_memory", "more than limits.peer_memory")]
    [TestCase("stream_memory = 134217728", "limits.stream_memory", "more than limits.connection_memory")]
    [TestCase("stream_memory = 8388608\nconnection_memory = 16777216\nprotocol_memory = 4194304", "limits.stream_memory", "more than limits.protocol_memory")]
    [TestCase("second_hand_address_ttl = \"10\"", "limits.second_hand_address_ttl", "not a duration")]
    [TestCase("second_hand_address_ttl = \"2d\"", "limits.second_hand_address_ttl", "outside")]
    [TestCase("stream_close_timeout = \"500ms\"", "limits.stream_close_timeout", "outside")]
    [TestCase("max_crl_staleness = \"30s\"", "limits.max_crl_staleness", "outside")]
    [TestCase("max_crl_staleness = \"never\"", "limits.max_crl_staleness", "not a duration")]
    public void Each_bad_value_is_refused_naming_its_key(string line, string key, string problem)
    {
        var path = WriteConfig($"\n[limits]\n{line}\n", 40430);
        var error = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, NoEnvironment), path))!;
        Assert.That(error.Key, Is.EqualTo(key), error.Message);
        Assert.That(error.Message, Does.Contain(key).And.Contain(problem));
    }

    [TestCase("[limits]\nmax_conections = 5\n", "limits.max_conections", "unknown key")]
    [TestCase("[limits]\nsystem_memory = \"1GiB\"\n", "limits.system_memory", "expected an integer")]
    public void Unknown_keys_and_wrong_types_are_refused(string toml, string key, string problem)
    {
        var error = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Parse(toml, "node.toml", NoEnvironment))!;
        Assert.That(error.Key, Is.EqualTo(key));
        Assert.That(error.Message, Does.Contain(problem));
    }

    [Test]
    public void The_environment_overrides_a_limit()
    {
        var path = WriteConfig(Limits, 40440);
        using var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, new Dictionary<string, string> { ["KONTINUUM__LIMITS__PEER_MEMORY"] = "67108864" }), path);
        Assert.That(resolved.Options.Limits!.Resources!.Peer.Memory, Is.EqualTo(64L << 20));
    }

    private string WriteConfig(string extra, int port)
    {
        var files = DevnetLayout.Write(Path.Combine(_directory, $"dn{port}"), 1, port, TimeSpan.FromDays(1), TimeProvider.System);
        var path = files.Nodes[0].ConfigPath;
        File.AppendAllText(path, extra);
        return path;
    }
}
