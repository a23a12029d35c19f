using KontinuumP2P.Testing.JsHarness;

namespace KontinuumP2P.Interop.Tests;

/// <summary>
/// js↔js through the harness: proves the harness (process control, commands, checks) independently of our host, so
/// a failing interop test points at our code and not at the test rig.
/// </summary>
[TestFixture]
[Category("Interop")]
[CancelAfter(120_000)]
public sealed class JsHarnessSanityTests
{
    private const string EchoProtocol = "/kontinuum/echo/1.0.0";

    [TestCase("/ip4/")]
    [TestCase("/ip6/")]
    public async Task TwoJsPeers_ConnectIdentifyPingAndEcho(string family, CancellationToken cancellationToken)
    {
        await using var listener = await JsPeer.StartAsync(null, cancellationToken);
        await using var dialer = await JsPeer.StartAsync(null, cancellationToken);

        var connection = await dialer.DialAsync(listener.AddressFor(family), cancellationToken);
        Assert.Multiple(() =>
        {
            Assert.That(connection.PeerId, Is.EqualTo(listener.PeerId));
            Assert.That(connection.Encryption, Is.EqualTo("/noise"));
            Assert.That(connection.Multiplexer, Is.EqualTo("/yamux/1.0.0"));
            Assert.That(connection.RemoteAddr, Does.StartWith(family));
        });

        var identify = await dialer.IdentifyAsync(listener.PeerId, fresh: false, cancellationToken);
        Assert.Multiple(() =>
        {
            Assert.That(identify.Protocols, Is.SupersetOf(new[] { "/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", EchoProtocol }));
            Assert.That(identify.ListenAddrs, Is.EquivalentTo(listener.Addresses.Select(StripPeerId)));
            Assert.That(identify.AgentVersion, Does.StartWith("js-libp2p/"));
        });

        var rtts = await dialer.PingAsync(listener.PeerId, 3, cancellationToken);
        Assert.That(rtts, Has.Count.EqualTo(3).And.All.GreaterThanOrEqualTo(0));

        var echo = await dialer.EchoAsync(listener.PeerId, streams: 20, size: 256 * 1024, TimeSpan.FromSeconds(60),
            cancellationToken);
        Assert.That(echo.Bytes, Is.EqualTo(20L * 256 * 1024));
    }

    [Test]
    public async Task HangUp_ClosesTheConnectionOnBothSides(CancellationToken cancellationToken)
    {
        await using var listener = await JsPeer.StartAsync(null, cancellationToken);
        await using var dialer = await JsPeer.StartAsync(null, cancellationToken);
        await dialer.DialAsync(listener.AddressFor("/ip4/"), cancellationToken);
        await listener.WaitForEventAsync("peer:connect", e => e.GetProperty("peerId").GetString() == dialer.PeerId,
            TimeSpan.FromSeconds(10), cancellationToken);

        await listener.HangUpAsync(dialer.PeerId, cancellationToken);

        await dialer.WaitForEventAsync("peer:disconnect", e => e.GetProperty("peerId").GetString() == listener.PeerId,
            TimeSpan.FromSeconds(10), cancellationToken);
        Assert.That(await dialer.ConnectionsAsync(listener.PeerId, cancellationToken), Is.Empty);
    }

    [Test]
    public async Task Mdns_TwoJsPeersDiscoverEachOther(CancellationToken cancellationToken)
    {
        var options = new JsPeerOptions { Mdns = true, Listen = ["/ip4/127.0.0.1/tcp/0"] };
        await using var first = await JsPeer.StartAsync(options, cancellationToken);
        await using var second = await JsPeer.StartAsync(options, cancellationToken);

        // js queries at start and every 10 s, and answers queries at once.
        var found = await first.WaitForEventAsync("peer:discovery",
            e => e.GetProperty("peerId").GetString() == second.PeerId, TimeSpan.FromSeconds(25), cancellationToken);
        Assert.That(found.GetProperty("addrs").EnumerateArray().Select(a => a.GetString()),
            Does.Contain(StripPeerId(second.AddressFor("/ip4/"))));
    }

    [Test]
    public async Task FailedCommand_ReportsTheJsError(CancellationToken cancellationToken)
    {
        await using var peer = await JsPeer.StartAsync(null, cancellationToken);
        // Nothing listens on port 1: the dial must fail and the wrapper must say so rather than hang.
        var error = Assert.ThrowsAsync<JsPeerException>(() => peer.DialAsync(
            $"/ip4/127.0.0.1/tcp/1/p2p/{peer.PeerId}", cancellationToken));
        Assert.That(error!.Message, Does.Contain("'dial' failed"));
    }

    [Test]
    public async Task FixedSeed_GivesTheSamePeerIdEveryTime(CancellationToken cancellationToken)
    {
        var options = new JsPeerOptions { Seed = new string('7', 64), Listen = ["/ip4/127.0.0.1/tcp/0"] };
        string first;
        await using (var peer = await JsPeer.StartAsync(options, cancellationToken)) first = peer.PeerId;
        await using var again = await JsPeer.StartAsync(options, cancellationToken);
        Assert.That(again.PeerId, Is.EqualTo(first).And.StartsWith("12D3KooW"));
    }

    internal static string StripPeerId(string address)
    {
        var at = address.LastIndexOf("/p2p/", StringComparison.Ordinal);
        return at < 0 ? address : address[..at];
    }
}
