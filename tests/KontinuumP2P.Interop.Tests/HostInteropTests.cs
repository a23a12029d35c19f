using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Testing.JsHarness;
using KontinuumP2P.Net.Protocols;

namespace KontinuumP2P.Interop.Tests;

/// <summary>
/// Our <c>Host</c> against a real js-libp2p 3 peer over TCP loopback, both dial directions, IPv4 and IPv6: the
/// handshake (multistream, Noise with the muxer inlined, Yamux), identify both ways, ping both ways, 100 concurrent
/// 1 MiB echo streams both ways, and a clean close (yamux GoAway) from either side.
/// </summary>
[TestFixture]
[Category("Interop")]
[CancelAfter(120_000)]
public sealed class HostInteropTests
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(15);
    private const int EchoStreams = 100;
    private const int EchoSize = 1 << 20;

    [Test]
    public async Task Handshake_IdentifyBothWays_PingBothWays(
        [Values] DialDirection direction, [Values("/ip4/", "/ip6/")] string family, CancellationToken cancellationToken)
    {
        await using var ours = await InteropHost.StartAsync(cancellationToken);
        await using var js = await JsPeer.StartAsync(null, cancellationToken);
        var jsPeer = PeerId.Parse(js.PeerId);
        var weIdentified = InteropHost.NextEvent(h => ours.Host.PeerIdentified += h, jsPeer);

        await ours.ConnectAsync(js, direction, family, cancellationToken);

        var jsConnection = (await js.ConnectionsAsync(ours.Host.PeerId.ToString(), cancellationToken)).Single();
        Assert.Multiple(() =>
        {
            Assert.That(jsConnection.Encryption, Is.EqualTo("/noise"));
            Assert.That(jsConnection.Multiplexer, Is.EqualTo("/yamux/1.0.0"));
            Assert.That(jsConnection.Direction, Is.EqualTo(direction == DialDirection.JsDialsUs ? "outbound" : "inbound"));
            Assert.That(jsConnection.RemoteAddr, Does.StartWith(family));
        });

        // js's view of us.
        var seenByJs = await js.IdentifyAsync(ours.Host.PeerId.ToString(), fresh: false, cancellationToken);
        Assert.Multiple(() =>
        {
            Assert.That(seenByJs.Protocols, Is.SupersetOf(new[] { "/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", EchoProtocol.Id }));
            Assert.That(seenByJs.ListenAddrs, Is.SupersetOf(ours.Host.ListenAddresses.Select(a => a.ToString())));
            Assert.That(seenByJs.AgentVersion, Is.EqualTo(ours.Host.AgentVersion));
            Assert.That(seenByJs.ProtocolVersion, Is.EqualTo("ipfs/0.1.0"));
        });

        // Our view of js.
        await weIdentified.WaitAsync(EventTimeout, cancellationToken);
        var seenByUs = ours.Host.PeerStore.Get(jsPeer);
        Assert.That(seenByUs, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(seenByUs!.Protocols, Is.SupersetOf(new[] { "/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", EchoProtocol.Id }));
            Assert.That(seenByUs.Addresses.Select(a => a.ToString()),
                Is.SupersetOf(js.Addresses.Select(JsHarnessSanityTests.StripPeerId)));
            Assert.That(seenByUs.AgentVersion, Does.StartWith("js-libp2p/"));
            Assert.That(seenByUs.PublicKey.HasValue && jsPeer.Matches(seenByUs.PublicKey.Value.Span), Is.True);
        });

        var jsRtts = await js.PingAsync(ours.Host.PeerId.ToString(), 3, cancellationToken);
        Assert.That(jsRtts, Has.Count.EqualTo(3).And.All.GreaterThanOrEqualTo(0));
        var ourRtts = await PingProtocol.PingAsync(ours.Host, jsPeer, 3, cancellationToken);
        Assert.That(ourRtts, Has.Count.EqualTo(3).And.All.GreaterThanOrEqualTo(TimeSpan.Zero));
        Assert.That(ours.Host.Connections.Count(c => c.RemotePeer == jsPeer), Is.EqualTo(1), "one connection reused");
    }

    [Test]
    public async Task HundredConcurrentOneMebibyteEchoStreams_BothWays(
        [Values] DialDirection direction, [Values("/ip4/", "/ip6/")] string family, CancellationToken cancellationToken)
    {
        await using var ours = await InteropHost.StartAsync(cancellationToken);
        await using var js = await JsPeer.StartAsync(null, cancellationToken);
        var jsPeer = await ours.ConnectAsync(js, direction, family, cancellationToken);

        // js opens the streams to our echo; js checks every byte.
        var jsEcho = await js.EchoAsync(ours.Host.PeerId.ToString(), EchoStreams, EchoSize, TimeSpan.FromSeconds(90),
            cancellationToken);
        Assert.That(jsEcho.Bytes, Is.EqualTo((long)EchoStreams * EchoSize));

        // We open the streams to js's echo; we check every byte.
        await Task.WhenAll(Enumerable.Range(0, EchoStreams)
            .Select(_ => ours.EchoThroughJsAsync(jsPeer, EchoSize, cancellationToken)));

        Assert.That(ours.Host.Connections.Count(c => c.RemotePeer == jsPeer), Is.EqualTo(1), "all streams on one connection");
        TestContext.Out.WriteLine($"js→us echo: {jsEcho.MbPerSec:0.0} MB/s over {EchoStreams} streams ({direction}, {family})");
    }

    [Test]
    public async Task CloseFromJs_SendsGoAway_AndWeDropTheConnection(
        [Values] DialDirection direction, [Values("/ip4/", "/ip6/")] string family, CancellationToken cancellationToken)
    {
        await using var ours = await InteropHost.StartAsync(cancellationToken);
        await using var js = await JsPeer.StartAsync(null, cancellationToken);
        var jsPeer = await ours.ConnectAsync(js, direction, family, cancellationToken);
        await js.PingAsync(ours.Host.PeerId.ToString(), 1, cancellationToken);
        var disconnected = InteropHost.NextEvent(h => ours.Host.PeerDisconnected += h, jsPeer);

        await js.HangUpAsync(ours.Host.PeerId.ToString(), cancellationToken);

        await disconnected.WaitAsync(EventTimeout, cancellationToken);
        var closed = await js.WaitForEventAsync("connection:close",
            e => e.GetProperty("peerId").GetString() == ours.Host.PeerId.ToString(), EventTimeout, cancellationToken);
        Assert.Multiple(() =>
        {
            Assert.That(closed.GetProperty("localGoAway").GetInt32(), Is.Zero, "js sent GoAway(normal)");
            Assert.That(ours.Host.Connections.Where(c => c.RemotePeer == jsPeer && !c.IsClosed), Is.Empty);
        });

        // Nothing stale is left behind: a new connection works at once.
        await ours.Host.DialAsync(Multiaddr.Parse(js.AddressFor(family)), cancellationToken);
        var rtts = await PingProtocol.PingAsync(ours.Host, jsPeer, 1, cancellationToken);
        Assert.That(rtts, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task CloseFromUs_SendsGoAway_AndJsDropsTheConnection(
        [Values] DialDirection direction, [Values("/ip4/", "/ip6/")] string family, CancellationToken cancellationToken)
    {
        await using var ours = await InteropHost.StartAsync(cancellationToken);
        await using var js = await JsPeer.StartAsync(null, cancellationToken);
        var jsPeer = await ours.ConnectAsync(js, direction, family, cancellationToken);
        await PingProtocol.PingAsync(ours.Host, jsPeer, 1, cancellationToken);

        await ours.Host.DisconnectAsync(jsPeer, cancellationToken);

        var closed = await js.WaitForEventAsync("connection:close",
            e => e.GetProperty("peerId").GetString() == ours.Host.PeerId.ToString(), EventTimeout, cancellationToken);
        Assert.That(closed.GetProperty("remoteGoAway").ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.Number),
            "js received a GoAway before the socket closed");
        Assert.That(closed.GetProperty("remoteGoAway").GetInt32(), Is.Zero, "GoAway code normal termination");
        Assert.That(await js.ConnectionsAsync(ours.Host.PeerId.ToString(), cancellationToken), Is.Empty);

        // js can connect again at once.
        var rtts = await js.PingAsync(ours.AddressFor(family), 1, cancellationToken);
        Assert.That(rtts, Has.Count.EqualTo(1));
    }
}
