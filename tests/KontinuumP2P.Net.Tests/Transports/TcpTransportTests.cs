using System.Net.Sockets;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Net.Tests.Transports;

[TestFixture]
[CancelAfter(20_000)]
public sealed class TcpTransportTests
{
    [TestCase("/ip4/127.0.0.1/tcp/0")]
    [TestCase("/ip6/::1/tcp/0")]
    public async Task Listen_on_port_zero_reports_the_real_port_and_carries_bytes_both_ways(string listenAt, CancellationToken ct)
    {
        if (listenAt.StartsWith("/ip6", StringComparison.Ordinal) && !Socket.OSSupportsIPv6) Assert.Ignore("no IPv6 here");
        var transport = new TcpTransport();
        await using var listener = await transport.ListenAsync(Multiaddr.Parse(listenAt), ct);
        Assert.That(listener.ListenAddress.ToTcpEndPoint()!.Port, Is.Not.Zero);
        Assert.That(listener.ListenAddress.Components[0].Protocol.Name, Is.EqualTo(listenAt.Split('/')[1]));

        var accept = listener.AcceptAsync(ct).AsTask();
        await using var dialed = await transport.DialAsync(listener.ListenAddress, ct);
        await using var accepted = await accept;
        Assert.That(dialed.RemoteAddress, Is.EqualTo(listener.ListenAddress));
        Assert.That(accepted.RemoteAddress, Is.EqualTo(dialed.LocalAddress));

        var up = TransportTestKit.Pattern(3 * 1024 * 1024 + 17, 1);
        var down = TransportTestKit.Pattern(100_000, 2);
        var sendUp = Task.Run(async () => { await dialed.Output.WriteAsync(up, ct); await dialed.Output.CompleteAsync(); }, ct);
        var sendDown = Task.Run(async () => { await accepted.Output.WriteAsync(down, ct); await accepted.Output.CompleteAsync(); }, ct);
        var receivedUp = await TransportTestKit.ReadToEndAsync(accepted.Input, up.Length, ct);
        var receivedDown = await TransportTestKit.ReadToEndAsync(dialed.Input, down.Length, ct);
        await Task.WhenAll(sendUp, sendDown);
        Assert.That(receivedUp, Is.EqualTo(up));
        Assert.That(receivedDown, Is.EqualTo(down));
        Assert.That(((ITransportStatistics)dialed).BytesSent, Is.EqualTo(up.Length));
        Assert.That(((ITransportStatistics)accepted).BytesReceived, Is.EqualTo(up.Length));
    }

    [Test]
    public async Task Dial_accepts_a_p2p_suffix(CancellationToken ct)
    {
        var transport = new TcpTransport();
        await using var listener = await transport.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"), ct);
        using var identity = Ed25519Identity.Generate();
        var accept = listener.AcceptAsync(ct).AsTask();
        await using var dialed = await transport.DialAsync(listener.ListenAddress.WithPeerId(identity.PeerId), ct);
        await using var accepted = await accept;
        Assert.That(dialed.RemoteAddress.ToTcpEndPoint(), Is.EqualTo(listener.ListenAddress.ToTcpEndPoint()));
    }

    [TestCase("/ip4/1.2.3.4/tcp/1", true, true)]
    [TestCase("/ip6/::1/tcp/80", true, true)]
    [TestCase("/ip4/1.2.3.4/tcp/1/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq", true, false)]
    [TestCase("/ip4/1.2.3.4/udp/1", false, false)]
    [TestCase("/dns4/example.com/tcp/1", false, false)]
    [TestCase("/ip4/1.2.3.4/tcp/1/ws", false, false)]
    [TestCase("/memory/x", false, false)]
    public void Address_shapes(string address, bool canDial, bool canListen)
    {
        var transport = new TcpTransport();
        var parsed = Multiaddr.Parse(address);
        Assert.That(transport.CanDial(parsed), Is.EqualTo(canDial));
        Assert.That(transport.CanListen(parsed), Is.EqualTo(canListen));
    }

    [Test]
    public async Task Dialing_a_closed_port_fails(CancellationToken ct)
    {
        var transport = new TcpTransport();
        Multiaddr address;
        await using (var listener = await transport.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"), ct))
            address = listener.ListenAddress;
        Assert.That(async () => await transport.DialAsync(address, ct), Throws.InstanceOf<SocketException>());
    }

    [Test]
    public async Task Abort_is_seen_as_an_error_by_the_remote_reader(CancellationToken ct)
    {
        var transport = new TcpTransport();
        await using var listener = await transport.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"), ct);
        var accept = listener.AcceptAsync(ct).AsTask();
        await using var dialed = await transport.DialAsync(listener.ListenAddress, ct);
        await using var accepted = await accept;
        dialed.Abort();
        Assert.That(async () => await TransportTestKit.ReadToEndAsync(accepted.Input, 0, ct), Throws.InstanceOf<IOException>());
    }

    [Test]
    public async Task Accept_after_dispose_is_cancelled(CancellationToken ct)
    {
        var transport = new TcpTransport();
        var listener = await transport.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"), ct);
        var accept = listener.AcceptAsync(ct).AsTask();
        await listener.DisposeAsync();
        Assert.That(async () => await accept, Throws.InstanceOf<OperationCanceledException>());
    }
}
