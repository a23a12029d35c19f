using System.Net;
using System.Net.Sockets;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Hosting;

namespace KontinuumP2P.Net.Tests.Hosting;

/// <summary>Issue #11 item 6: inbound floods from many addresses cannot stall our dials or take every handshake slot.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class ConnectionBudgetTests
{
    private readonly List<Socket> _sockets = [];

    [TearDown]
    public void CloseSockets()
    {
        foreach (var socket in _sockets) socket.Dispose();
        _sockets.Clear();
    }

    [Test]
    public async Task Silent_handshakes_are_bounded_per_24_and_globally_and_an_honest_peer_still_connects(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var listener = await hosts.StartAsync(ct, o => With(o, pendingPerSubnet: 4, pendingTotal: 10));
        var honest = await hosts.StartAsync(ct);

        // Eight silent sockets from one /24: four may wait in their handshake, four are closed at accept.
        var first = await FloodAsync(listener, Enumerable.Range(1, 8).Select(i => $"127.0.1.{i}"), ct);
        await TestHosts.WaitUntilAsync(() => first.Count(t => t.IsCompleted) == 4 && listener.Budget.PendingHandshakes == 4, ct, 20_000);

        // Meanwhile a peer from another /24 completes its handshake.
        await honest.DialAsync(TestHosts.AddressOf(listener), ct);
        await TestHosts.WaitUntilAsync(() => listener.Connections.Any(c => c.RemotePeer == honest.PeerId), ct, 20_000);

        // Two more /24s of four each: only six more fit under the global bound of ten.
        var more = await FloodAsync(listener, Enumerable.Range(1, 4).Select(i => $"127.0.2.{i}")
            .Concat(Enumerable.Range(1, 4).Select(i => $"127.0.3.{i}")), ct);
        await TestHosts.WaitUntilAsync(() => more.Count(t => t.IsCompleted) == 2 && listener.Budget.PendingHandshakes == 10, ct, 20_000);
        TestContext.Out.WriteLine($"16 silent sockets from 3 /24s: {listener.Budget.PendingHandshakes} pending (bounds 4 per /24, 10 total)");

        // Closing the stallers frees their handshake slots.
        CloseSockets();
        await TestHosts.WaitUntilAsync(() => listener.Budget.PendingHandshakes == 0, ct, 20_000);
        Assert.That(listener.Budget.Inbound, Is.EqualTo(1));
    }

    [Test]
    public async Task An_inbound_flood_leaves_the_outbound_reserve_to_our_dials(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var victim = await hosts.StartAsync(ct, o => With(o, maxConnections: 8, reserve: 3, pendingPerSubnet: 100, pendingTotal: 100));
        var target = await hosts.StartAsync(ct);

        // Twenty silent sockets, each from its own /24: inbound gets 8 - 3 = 5 slots, no more.
        var flood = await FloodAsync(victim, Enumerable.Range(1, 20).Select(i => $"127.0.{10 + i}.1"), ct);
        await TestHosts.WaitUntilAsync(() => flood.Count(t => t.IsCompleted) == 15 && victim.Budget.Inbound == 5, ct, 20_000);

        // Our dial uses the reserve.
        var connection = await victim.DialAsync(TestHosts.AddressOf(target), ct);
        await using (await connection.NewStreamAsync([KontinuumP2P.Net.Protocols.EchoProtocol.Id], ct)) { }
        Assert.That(victim.Budget.Outbound, Is.EqualTo(1));
        Assert.That(victim.Budget.Inbound, Is.EqualTo(5));
    }

    [Test]
    public async Task Outbound_connections_have_their_own_limit(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var dialer = await hosts.StartAsync(ct, o => With(o, maxOutbound: 1));
        var (a, b) = (await hosts.StartAsync(ct), await hosts.StartAsync(ct));
        await dialer.DialAsync(TestHosts.AddressOf(a), ct);
        var refused = Assert.ThrowsAsync<IOException>(async () => await dialer.DialAsync(TestHosts.AddressOf(b), ct));
        Assert.That(refused!.Message, Does.Contain("outbound-limit"));
        // Inbound is unaffected by the outbound limit.
        await b.DialAsync(TestHosts.AddressOf(dialer), ct);
        await TestHosts.WaitUntilAsync(() => dialer.Budget.Inbound == 1, ct, 20_000);
    }

    [Test]
    public void Ipv6_addresses_count_per_64_and_ipv4_handshakes_per_24()
    {
        var a = IPAddress.Parse("2001:db8:1:2:aaaa::1");
        var b = IPAddress.Parse("2001:db8:1:2:ffff:1:2:3");
        var c = IPAddress.Parse("2001:db8:1:3::1");
        Assert.That(ConnectionBudget.AddressKey(a), Is.EqualTo(ConnectionBudget.AddressKey(b)));
        Assert.That(ConnectionBudget.AddressKey(a), Is.Not.EqualTo(ConnectionBudget.AddressKey(c)));
        Assert.That(ConnectionBudget.SubnetKey(IPAddress.Parse("10.1.2.3")), Is.EqualTo("10.1.2.0/24"));
        Assert.That(ConnectionBudget.SubnetKey(IPAddress.Parse("::ffff:10.1.2.200")), Is.EqualTo("10.1.2.0/24"));
        Assert.That(ConnectionBudget.AddressKey(IPAddress.Parse("10.1.2.3")), Is.EqualTo("10.1.2.3"));

        var budget = new ConnectionBudget(new PeerHostOptions
        {
            Identity = null!,
            MaxConnectionsPerIp = 2,
            MaxPendingHandshakesPerSubnet = 100,
        });
        // One IPv6 host rotating through its /64 is one "IP".
        Assert.That(budget.TryBeginInbound(ConnectionBudget.AddressKey(a), null), Is.Null);
        Assert.That(budget.TryBeginInbound(ConnectionBudget.AddressKey(b), null), Is.Null);
        Assert.That(budget.TryBeginInbound(ConnectionBudget.AddressKey(IPAddress.Parse("2001:db8:1:2::99")), null), Is.EqualTo("per-ip-limit"));
        Assert.That(budget.TryBeginInbound(ConnectionBudget.AddressKey(c), null), Is.Null);
    }

    private async Task<List<Task>> FloodAsync(PeerHost listener, IEnumerable<string> sources, CancellationToken ct)
    {
        var endpoint = listener.ListenAddresses[0].ToTcpEndPoint()!;
        var closed = new List<Task>();
        foreach (var source in sources)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _sockets.Add(socket);
            socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
            try
            {
                await socket.ConnectAsync(endpoint, ct);
            }
            catch (SocketException)
            {
                // The host accepted and reset it before the connect call returned: a refusal.
                closed.Add(Task.CompletedTask);
                continue;
            }
            closed.Add(WaitClosedAsync(socket, ct));
        }
        return closed;
    }

    private static async Task WaitClosedAsync(Socket socket, CancellationToken ct)
    {
        // Never sends a byte; completes when the host closes (or resets) the socket.
        var buffer = new byte[256];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, ct) > 0)
            {
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private static PeerHostOptions With(PeerHostOptions o, int? maxConnections = null, int? reserve = null, int? maxOutbound = null,
        int pendingPerSubnet = 16, int pendingTotal = 128) => new()
    {
        Identity = o.Identity,
        Transports = o.Transports,
        ListenAddresses = o.ListenAddresses,
        InboundStreamLimits = o.InboundStreamLimits,
        MaxConnections = maxConnections ?? o.MaxConnections,
        OutboundReserve = reserve ?? o.OutboundReserve,
        MaxOutboundConnections = maxOutbound ?? o.MaxOutboundConnections,
        MaxPendingHandshakesPerSubnet = pendingPerSubnet,
        MaxPendingInboundHandshakes = pendingTotal,
        MaxConnectionsPerIp = 100,
        LimitLoopbackPerIp = true,
        HandshakeTimeout = TimeSpan.FromSeconds(50),
    };
}
