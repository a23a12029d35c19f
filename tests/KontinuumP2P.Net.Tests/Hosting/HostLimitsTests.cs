using System.Net.Sockets;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Net.Tests.Hosting;

[TestFixture]
[CancelAfter(30_000)]
public sealed class HostLimitsTests
{
    [Test]
    public async Task A_peer_that_stalls_the_handshake_is_cut_off_without_harming_other_connections(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var listener = await hosts.StartAsync(ct, o => CopyWith(o, handshakeTimeout: TimeSpan.FromSeconds(1)));
        var dialer = await hosts.StartAsync(ct);
        var healthy = await dialer.DialAsync(TestHosts.AddressOf(listener), ct);

        using var staller = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await staller.ConnectAsync(listener.ListenAddresses[0].ToTcpEndPoint()!, ct);
        var started = Environment.TickCount64;
        // Say nothing; the host must close the socket once its handshake timeout passes.
        var buffer = new byte[64];
        int read;
        try
        {
            read = await staller.ReceiveAsync(buffer, SocketFlags.None, ct);
        }
        catch (SocketException)
        {
            read = 0;
        }
        var waited = Environment.TickCount64 - started;
        Assert.That(read, Is.Zero);
        Assert.That(waited, Is.InRange(800, 8000));

        await using var stream = await healthy.NewStreamAsync([EchoProtocol.Id], ct);
        Assert.That(healthy.IsClosed, Is.False);
        await TestHosts.WaitUntilAsync(() => listener.Connections.Count == 1, ct);
    }

    [Test]
    public async Task Inbound_connections_over_the_limit_are_closed_after_accept(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var listener = await hosts.StartAsync(ct, o => CopyWith(o, maxConnections: 1));
        var first = await hosts.StartAsync(ct);
        var second = await hosts.StartAsync(ct);
        await first.DialAsync(TestHosts.AddressOf(listener), ct);
        Assert.That(async () => await second.DialAsync(TestHosts.AddressOf(listener), ct), Throws.InstanceOf<IOException>());
        await TestHosts.WaitUntilAsync(() => listener.Connections.Count == 1, ct);
        Assert.That(listener.Connections.Select(c => c.RemotePeer), Is.EquivalentTo(new[] { first.PeerId }));
    }

    [Test]
    public async Task Per_ip_limit_applies_to_inbound_connections(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        // Loopback is exempt by default (local devnets); the test turns the limit on for it.
        var listener = await hosts.StartAsync(ct, o => CopyWith(o, maxPerIp: 2, limitLoopback: true));
        var dialers = new List<PeerHost>();
        for (var i = 0; i < 3; i++) dialers.Add(await hosts.StartAsync(ct));
        await dialers[0].DialAsync(TestHosts.AddressOf(listener), ct);
        await dialers[1].DialAsync(TestHosts.AddressOf(listener), ct);
        Assert.That(async () => await dialers[2].DialAsync(TestHosts.AddressOf(listener), ct), Throws.InstanceOf<IOException>());
        await TestHosts.WaitUntilAsync(() => listener.Connections.Count == 2, ct);
        Assert.That(listener.Connections.Select(c => c.RemotePeer), Is.EquivalentTo(dialers.Take(2).Select(d => d.PeerId)));
    }

    [Test]
    public async Task Loopback_is_exempt_from_the_per_ip_limit_by_default(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var listener = await hosts.StartAsync(ct, o => CopyWith(o, maxPerIp: 1));
        for (var i = 0; i < 3; i++) await (await hosts.StartAsync(ct)).DialAsync(TestHosts.AddressOf(listener), ct);
        await TestHosts.WaitUntilAsync(() => listener.Connections.Count == 3, ct);
    }

    [Test]
    public async Task Streams_over_the_per_protocol_cap_are_reset(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Memory);
        var listener = await hosts.StartAsync(ct, o => CopyWith(o, echoLimit: 2));
        var dialer = await hosts.StartAsync(ct);
        var connection = await dialer.DialAsync(TestHosts.AddressOf(listener), ct);
        var held = new List<IP2PStream>();
        for (var i = 0; i < 2; i++)
        {
            var open = await connection.NewStreamAsync([EchoProtocol.Id], ct);
            await open.Output.WriteAsync(new byte[] { 1 }, ct);
            await Transports.TransportTestKit.ReadExactlyAsync(open.Input, 1, ct);
            held.Add(open);
        }
        // Negotiation succeeds (js semantics), then the stream is reset: seen during negotiation or on the first read.
        Assert.That(async () =>
        {
            await using var third = await connection.NewStreamAsync([EchoProtocol.Id], ct);
            await third.Output.WriteAsync(new byte[] { 1 }, ct);
            await Transports.TransportTestKit.ReadExactlyAsync(third.Input, 1, ct);
        }, Throws.InstanceOf<StreamResetException>());

        await held[0].DisposeAsync();
        var fourth = await RetryAsync(async () =>
        {
            var s = await connection.NewStreamAsync([EchoProtocol.Id], ct);
            await s.Output.WriteAsync(new byte[] { 9 }, ct);
            return (s, await Transports.TransportTestKit.ReadExactlyAsync(s.Input, 1, ct));
        }, ct);
        Assert.That(fourth.Item2, Is.EqualTo(new byte[] { 9 }));
        await fourth.s.DisposeAsync();
        await held[1].DisposeAsync();
    }

    [Test]
    public async Task Idle_connections_are_closed(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Memory);
        var listener = await hosts.StartAsync(ct);
        var dialer = await hosts.StartAsync(ct, o => CopyWith(o, idle: TimeSpan.FromSeconds(1)));
        // Both sides' events: the listener can see the close before the dialer has dropped it from its registry.
        var listenerSawClose = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dialerDroppedIt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.PeerDisconnected += (_, _) => listenerSawClose.TrySetResult();
        dialer.PeerDisconnected += (_, _) => dialerDroppedIt.TrySetResult();
        var connection = await dialer.DialAsync(TestHosts.AddressOf(listener), ct);
        await Task.WhenAll(listenerSawClose.Task, dialerDroppedIt.Task).WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.That(connection.IsClosed, Is.True);
        Assert.That(dialer.Connections, Is.Empty);
    }

    [Test]
    public async Task Identify_push_announces_new_protocols(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Memory);
        var (dialer, listener, _) = await hosts.ConnectedPairAsync(ct);
        await TestHosts.WaitUntilAsync(() => listener.PeerStore.Get(dialer.PeerId)?.Protocols.Count > 0
                                             && dialer.PeerStore.Get(listener.PeerId)?.Protocols.Count > 0, ct);
        listener.SetHandler("/kontinuum/test/1.0.0", (stream, _) => ValueTask.CompletedTask);
        await TestHosts.WaitUntilAsync(() => dialer.PeerStore.Get(listener.PeerId)!.Protocols.Contains("/kontinuum/test/1.0.0"), ct);
        listener.RemoveHandler("/kontinuum/test/1.0.0");
        await TestHosts.WaitUntilAsync(() => !dialer.PeerStore.Get(listener.PeerId)!.Protocols.Contains("/kontinuum/test/1.0.0"), ct);
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> attempt, CancellationToken ct)
    {
        // The slot is freed when the remote handler finishes, a moment after our dispose.
        for (var i = 0; ; i++)
        {
            try
            {
                return await attempt();
            }
            catch (IOException) when (i < 20)
            {
                await Task.Delay(50, ct);
            }
        }
    }

    private static PeerHostOptions CopyWith(PeerHostOptions o, TimeSpan? handshakeTimeout = null, int? maxConnections = null,
        int? maxPerIp = null, int? echoLimit = null, TimeSpan? idle = null, bool limitLoopback = false) => new()
    {
        Identity = o.Identity,
        Transports = o.Transports,
        ListenAddresses = o.ListenAddresses,
        HandshakeTimeout = handshakeTimeout ?? o.HandshakeTimeout,
        MaxConnections = maxConnections ?? o.MaxConnections,
        MaxConnectionsPerIp = maxPerIp ?? o.MaxConnectionsPerIp,
        LimitLoopbackPerIp = limitLoopback,
        InboundStreamLimits = echoLimit is { } limit ? new Dictionary<string, int> { [EchoProtocol.Id] = limit } : o.InboundStreamLimits,
        IdleConnectionTimeout = idle ?? o.IdleConnectionTimeout,
    };
}
