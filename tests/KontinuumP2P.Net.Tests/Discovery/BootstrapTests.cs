using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Discovery;
using KontinuumP2P.Net.Discovery.Bootstrap;
using KontinuumP2P.Net.Discovery.Dns;
using KontinuumP2P.Testing;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Discovery;

[TestFixture]
public sealed class BootstrapTests
{
    private static readonly PeerId Boot = Ed25519Identity.FromSeed(Enumerable.Repeat((byte)7, 32).ToArray()).PeerId;

    [Test]
    public void BadEntriesAreReportedWithTheirSourceAndSkipped()
    {
        var list = BootstrapList.Parse(
        [
            new("--bootstrap #1", $"/ip4/127.0.0.1/tcp/4001/p2p/{Boot}"),
            new("--bootstrap #2", $"/dns4/boot.test/tcp/4001/p2p/{Boot}"),
            new("genesis.json", "/dnsaddr/bootstrap.test"),
            new("genesis.json", "/ip4/127.0.0.1/tcp/4001"),
            new("node.toml", "/ip4/1.2.3.4/udp/4001/quic-v1/p2p/" + Boot),
            new("node.toml", "hello"),
            new("compiled", "/ip4/127.0.0.1/tcp/0/p2p/" + Boot),
            new("compiled", ""),
        ]);
        Assert.That(list.Peers, Has.Count.EqualTo(2));
        Assert.That(list.Peers[0].PeerId, Is.EqualTo(Boot));
        Assert.That(list.Peers[0].Addresses, Has.Count.EqualTo(2), "two entries of one peer are merged");
        Assert.That(list.Peers[1].PeerId, Is.Null);
        Assert.That(list.Problems.Select(p => (p.Source, p.Reason.Split(':')[0])), Is.EqualTo(new[]
        {
            ("genesis.json", "no /p2p/<peer id>"),
            ("node.toml", "unsupported transport"),
            ("node.toml", "not a multiaddr"),
            ("compiled", "port 0 cannot be dialed"),
            ("compiled", "empty entry"),
        }));
    }

    [Test]
    public void OnlyUnusableEntriesIsAnErrorNamingEveryOne()
    {
        var error = Assert.Throws<BootstrapConfigurationException>(() => BootstrapList.Parse(
            [new("--bootstrap #1", "/ip4/1.2.3.4/tcp/1"), new("--bootstrap #2", "nonsense")]));
        Assert.That(error!.Problems, Has.Count.EqualTo(2));
        Assert.That(error.Message, Does.Contain("--bootstrap #1").And.Contain("--bootstrap #2"));
        Assert.That(BootstrapList.Parse([]).Peers, Is.Empty, "no entries at all is a valid (first-node) setup");
    }

    [Test]
    public void BackoffDelaysGrowAreCappedAndJittered()
    {
        var policy = new BackoffPolicy(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        var random = new Random(1);
        for (var failures = 1; failures <= 20; failures++)
        {
            var nominal = policy.Nominal(failures);
            Assert.That(nominal, Is.EqualTo(TimeSpan.FromSeconds(Math.Min(600, Math.Pow(2, failures - 1)))));
            var samples = Enumerable.Range(0, 200).Select(_ => policy.Next(failures, random)).ToList();
            Assert.That(samples, Is.All.InRange(nominal / 2, nominal));
            Assert.That(samples.Distinct().Count(), Is.GreaterThan(150), "jittered, not lockstep");
        }
        // Unreachable forever: after the cap at most one try per 5 minutes, i.e. 12 per hour instead of 3600.
        Assert.That(policy.Next(50, random), Is.GreaterThanOrEqualTo(TimeSpan.FromMinutes(5)));
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task ADownPeerIsRetriedWithGrowingJitteredDelaysAndPickedUpWhenItComesBack(CancellationToken cancellationToken)
    {
        var port = FreeTcpPort();
        await using var host = new TcpTestHost(Ed25519Identity.Generate().PeerId, TimeProvider.System);
        var list = BootstrapList.Parse([new("test", $"/ip4/127.0.0.1/tcp/{port}/p2p/{Boot}")]);
        var options = new BootstrapOptions
        {
            MinConnections = 1,
            Backoff = new BackoffPolicy(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(1600)),
            StartJitter = TimeSpan.Zero,
            ReconnectJitter = TimeSpan.FromMilliseconds(200),
        };
        await using var dialer = new BootstrapDialer(host, list, options: options);
        dialer.Start();

        await MdnsNamespaceTests.WaitUntilAsync(() => dialer.State[0].Attempts.Count >= 6, TimeSpan.FromSeconds(10), cancellationToken);
        var attempts = dialer.State[0].Attempts;
        var gaps = attempts.Zip(attempts.Skip(1), (a, b) => b - a).Take(5).ToList();
        await TestContext.Out.WriteLineAsync("retry gaps: " + string.Join(", ", gaps.Select(g => $"{g.TotalMilliseconds:F0} ms")));
        var policy = options.Backoff;
        for (var i = 0; i < gaps.Count; i++)
        {
            var nominal = policy.Nominal(i + 1);
            Assert.That(gaps[i], Is.GreaterThanOrEqualTo(nominal / 2 - TimeSpan.FromMilliseconds(5)), $"gap {i} not shorter than half of {nominal}");
            // Timers run late on a loaded machine, never early: generous above, strict below.
            Assert.That(gaps[i], Is.LessThanOrEqualTo(nominal + TimeSpan.FromSeconds(1)), $"gap {i} near {nominal}");
        }
        Assert.That(gaps[4], Is.GreaterThan(gaps[0]), "delays grow");
        Assert.That(gaps.Select((g, i) => g.TotalMilliseconds / policy.Nominal(i + 1).TotalMilliseconds).Distinct().Count(), Is.GreaterThan(1));

        // The peer comes back: it is picked up at the next try and reported as a bootstrap discovery.
        using var server = new TcpListener(IPAddress.Loopback, port);
        server.Start();
        var found = FirstAsync(dialer.DiscoverAsync(cancellationToken));
        var accepted = await server.AcceptSocketAsync(cancellationToken);
        var discovered = await found;
        Assert.That(discovered.PeerId, Is.EqualTo(Boot));
        Assert.That(discovered.Source, Is.EqualTo(DiscoverySource.Bootstrap));
        Assert.That(discovered.Addresses, Is.EqualTo(new[] { Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}") }));
        await MdnsNamespaceTests.WaitUntilAsync(() => dialer.State[0].Failures == 0, TimeSpan.FromSeconds(2), cancellationToken);

        // The connection drops (count below the minimum): redialed after the reconnect jitter, no failure in between.
        var clock = Stopwatch.StartNew();
        accepted.Dispose();
        using var again = await server.AcceptSocketAsync(cancellationToken);
        await TestContext.Out.WriteLineAsync($"reconnected {clock.Elapsed.TotalMilliseconds:F0} ms after the drop");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)));
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task EnoughConnectionsMeanNoBootstrapDials(CancellationToken cancellationToken)
    {
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        var port = ((IPEndPoint)server.LocalEndpoint).Port;
        // The dialer's loop arms its 10 s check timer only after a check round: each arming ends one round.
        var checks = new TimerWatch(new FakeTimeProvider(), TimeSpan.FromSeconds(10));
        await using var host = new TcpTestHost(Ed25519Identity.Generate().PeerId, checks);
        var other = Ed25519Identity.Generate().PeerId;
        await host.DialAsync(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}/p2p/{other}"), cancellationToken); // one peer already
        using var held = await server.AcceptSocketAsync(cancellationToken);
        var list = BootstrapList.Parse([new("test", $"/ip4/127.0.0.1/tcp/{port}/p2p/{Boot}")]);
        await using var dialer = new BootstrapDialer(host, list, options: new BootstrapOptions
        {
            MinConnections = 1, StartJitter = TimeSpan.Zero, CheckInterval = TimeSpan.FromSeconds(10),
        });
        dialer.Start();
        await checks.WaitForArmedAsync(1, cancellationToken);
        Assert.That(dialer.State[0].Attempts, Is.Empty);
        Assert.That(host.Dials, Is.EqualTo(1));
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task ADnsEntryIsResolvedThroughTheConfiguredServerBeforeDialing(CancellationToken cancellationToken)
    {
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        var port = ((IPEndPoint)server.LocalEndpoint).Port;
        using var dns = await Dnsmasq.StartAsync(
            [$"--txt-record=_dnsaddr.fleet.test,\"dnsaddr=/dns4/boot1.test/tcp/{port}/p2p/{Boot}\"", "--host-record=boot1.test,127.0.0.1"],
            cancellationToken);
        var resolver = new MultiaddrResolver(new DnsResolver(new DnsResolverOptions { Servers = [dns.EndPoint] }));
        await using var host = new TcpTestHost(Ed25519Identity.Generate().PeerId, TimeProvider.System);
        var list = BootstrapList.Parse([new("genesis", "/dnsaddr/fleet.test")]);
        await using var dialer = new BootstrapDialer(host, list, resolver, new BootstrapOptions { MinConnections = 1, StartJitter = TimeSpan.Zero });
        dialer.Start();
        var discovered = await FirstAsync(dialer.DiscoverAsync(cancellationToken));
        using var accepted = await server.AcceptSocketAsync(cancellationToken);
        Assert.That(discovered.PeerId, Is.EqualTo(Boot));
        Assert.That(discovered.Addresses.Single(), Is.EqualTo(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}")));
    }

    private static async Task<DiscoveredPeer> FirstAsync(IAsyncEnumerable<DiscoveredPeer> peers)
    {
        await foreach (var peer in peers) return peer;
        throw new InvalidOperationException("discovery ended without a peer");
    }

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
