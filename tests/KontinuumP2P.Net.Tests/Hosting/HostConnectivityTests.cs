using System.Text;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Tests.Transports;

namespace KontinuumP2P.Net.Tests.Hosting;

[TestFixture(TestNetwork.Tcp4)]
[TestFixture(TestNetwork.Tcp6)]
[TestFixture(TestNetwork.Memory)]
[CancelAfter(30_000)]
public sealed class HostConnectivityTests(TestNetwork network)
{
    [Test]
    public async Task Connect_authenticates_both_sides_and_identify_runs_both_ways(CancellationToken ct)
    {
        await using var hosts = new TestHosts(network);
        var listener = await hosts.StartAsync(ct);
        var dialer = await hosts.StartAsync(ct);
        var listenerSawIdentify = new TaskCompletionSource<PeerEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        var dialerSawIdentify = new TaskCompletionSource<PeerEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.PeerIdentified += (_, e) => listenerSawIdentify.TrySetResult(e);
        dialer.PeerIdentified += (_, e) => dialerSawIdentify.TrySetResult(e);

        var connection = await dialer.DialAsync(TestHosts.AddressOf(listener), ct);
        Assert.That(connection.RemotePeer, Is.EqualTo(listener.PeerId));
        Assert.That(connection.Direction, Is.EqualTo(Direction.Outbound));

        Assert.That((await dialerSawIdentify.Task.WaitAsync(ct)).Peer, Is.EqualTo(listener.PeerId));
        Assert.That((await listenerSawIdentify.Task.WaitAsync(ct)).Peer, Is.EqualTo(dialer.PeerId));

        foreach (var (self, other) in new[] { (dialer, listener), (listener, dialer) })
        {
            var info = self.PeerStore.Get(other.PeerId)!;
            Assert.That(info.Protocols, Is.SupersetOf(new[] { IdentifyProtocol.Id, IdentifyProtocol.PushId, PingProtocol.Id, EchoProtocol.Id }));
            Assert.That(info.AgentVersion, Does.StartWith("kontinuum/"));
            Assert.That(info.Addresses, Does.Contain(other.ListenAddresses[0]));
            Assert.That(info.PublicKey!.Value.ToArray(), Is.EqualTo(other.PublicKey.ToArray()));
        }
        Assert.That(listener.Connections.Single().Direction, Is.EqualTo(Direction.Inbound));
    }

    [Test]
    public async Task Ping_returns_round_trip_times(CancellationToken ct)
    {
        await using var hosts = new TestHosts(network);
        var (dialer, listener, _) = await hosts.ConnectedPairAsync(ct);
        var rtts = await PingProtocol.PingAsync(dialer, listener.PeerId, 3, ct);
        Assert.That(rtts, Has.Count.EqualTo(3));
        Assert.That(rtts.Min(), Is.GreaterThan(TimeSpan.Zero));
        Assert.That(rtts.Max(), Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public async Task Ping_is_echoed_after_the_remote_fin(CancellationToken ct)
    {
        await using var hosts = new TestHosts(network);
        var (dialer, listener, connection) = await hosts.ConnectedPairAsync(ct);
        await using var stream = await connection.NewStreamAsync([PingProtocol.Id], ct);
        var payload = TransportTestKit.Pattern(PingProtocol.PayloadSize, 7);
        // js writes its ping and closes at once; the answer must still come.
        await stream.Output.WriteAsync(payload, ct);
        await stream.Output.CompleteAsync();
        Assert.That(await TransportTestKit.ReadToEndAsync(stream.Input, 64, ct), Is.EqualTo(payload));
    }

    [Test]
    public async Task Echo_stream_returns_everything_then_fin(CancellationToken ct)
    {
        await using var hosts = new TestHosts(network);
        var (_, _, connection) = await hosts.ConnectedPairAsync(ct);
        await using var stream = await connection.NewStreamAsync([EchoProtocol.Id], ct);
        Assert.That(stream.Protocol, Is.EqualTo(EchoProtocol.Id));
        var data = Encoding.UTF8.GetBytes("hello kontinuum");
        await stream.Output.WriteAsync(data, ct);
        await stream.Output.CompleteAsync();
        Assert.That(await TransportTestKit.ReadToEndAsync(stream.Input, 100, ct), Is.EqualTo(data));
    }

    [Test]
    public async Task Unknown_protocol_throws_and_keeps_the_connection(CancellationToken ct)
    {
        await using var hosts = new TestHosts(network);
        var (_, _, connection) = await hosts.ConnectedPairAsync(ct);
        Assert.That(async () => await connection.NewStreamAsync(["/nope/1.0.0", "/nope/2.0.0"], ct),
            Throws.TypeOf<ProtocolNotSupportedException>());
        await using var stream = await connection.NewStreamAsync(["/nope/1.0.0", EchoProtocol.Id], ct);
        Assert.That(stream.Protocol, Is.EqualTo(EchoProtocol.Id));
        Assert.That(connection.IsClosed, Is.False);
    }

    [Test]
    public async Task One_connection_per_peer_is_reused_and_concurrent_dials_share_one_attempt(CancellationToken ct)
    {
        await using var hosts = new TestHosts(network);
        var listener = await hosts.StartAsync(ct);
        var dialer = await hosts.StartAsync(ct);
        var address = TestHosts.AddressOf(listener);
        var dials = Enumerable.Range(0, 8).Select(_ => dialer.DialAsync(address, ct).AsTask()).ToList();
        var connections = await Task.WhenAll(dials);
        Assert.That(connections.Distinct().Count(), Is.EqualTo(1));
        Assert.That(await dialer.ConnectAsync(listener.PeerId, ct), Is.SameAs(connections[0]));
        Assert.That(dialer.Connections, Has.Count.EqualTo(1));
        await TestHosts.WaitUntilAsync(() => listener.Connections.Count == 1, ct);
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task Close_from_either_side_is_seen_by_both(bool dialerCloses, CancellationToken ct)
    {
        await using var hosts = new TestHosts(network);
        var (dialer, listener, _) = await hosts.ConnectedPairAsync(ct);
        await TestHosts.WaitUntilAsync(() => listener.Connections.Count == 1, ct);
        var (closer, other) = dialerCloses ? (dialer, listener) : (listener, dialer);
        var otherSaw = new TaskCompletionSource<PeerId>(TaskCreationOptions.RunContinuationsAsynchronously);
        other.PeerDisconnected += (_, e) => otherSaw.TrySetResult(e.Peer);

        await closer.DisconnectAsync(other.PeerId, ct);
        Assert.That(closer.Connections, Is.Empty);
        Assert.That(await otherSaw.Task.WaitAsync(ct), Is.EqualTo(closer.PeerId));
        Assert.That(other.Connections, Is.Empty);

        // The peer store kept the address: streams reconnect on demand.
        await using var stream = await dialer.NewStreamAsync(listener.PeerId, [EchoProtocol.Id], ct);
        Assert.That(stream.Connection.IsClosed, Is.False);
    }

    [Test]
    public async Task Dial_with_the_wrong_peer_id_fails(CancellationToken ct)
    {
        await using var hosts = new TestHosts(network);
        var listener = await hosts.StartAsync(ct);
        var impostor = await hosts.StartAsync(ct);
        var dialer = await hosts.StartAsync(ct);
        var wrong = listener.ListenAddresses[0].WithPeerId(impostor.PeerId);
        Assert.That(async () => await dialer.DialAsync(wrong, ct), Throws.InstanceOf<IOException>());
        Assert.That(dialer.Connections, Is.Empty);
    }
}
