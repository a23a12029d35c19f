using System.Net;
using System.Net.Sockets;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Discovery.Dns;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Discovery;

/// <summary>/dns4, /dns6, /dns and /dnsaddr against a real dnsmasq on 127.0.0.1.</summary>
[TestFixture]
[NonParallelizable]
public sealed class DnsResolutionTests
{
    private static readonly PeerId PeerA = Ed25519Identity.FromSeed(new byte[32]).PeerId;
    private static readonly PeerId PeerB = Ed25519Identity.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray()).PeerId;
    private static readonly PeerId PeerC = Ed25519Identity.FromSeed(Enumerable.Repeat((byte)2, 32).ToArray()).PeerId;
    private Dnsmasq _dns = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var records = new List<string>
        {
            "--host-record=node1.test,127.0.0.1,::1",
            "--host-record=v4only.test,127.0.0.2",
            $"--txt-record=_dnsaddr.boot.test,\"dnsaddr=/ip4/127.0.0.1/tcp/4001/p2p/{PeerA}\"",
            $"--txt-record=_dnsaddr.boot.test,\"dnsaddr=/ip4/127.0.0.1/tcp/4002/p2p/{PeerB}\"",
            "--txt-record=_dnsaddr.boot.test,\"dnsaddr=/dnsaddr/nested.test\"",
            "--txt-record=_dnsaddr.boot.test,\"unrelated=text\"",
            "--txt-record=_dnsaddr.boot.test,\"dnsaddr=/not-a-protocol/x\"",
            $"--txt-record=_dnsaddr.nested.test,\"dnsaddr=/dns4/node1.test/tcp/4003/p2p/{PeerC}\"",
            $"--txt-record=_dnsaddr.nested.test,\"dnsaddr=/dns6/node1.test/tcp/4004/p2p/{PeerC}\"",
            "--txt-record=_dnsaddr.loop.test,\"dnsaddr=/dnsaddr/loop.test\"",
            "--txt-record=_dnsaddr.empty.test,\"nothing=here\"",
        };
        for (var i = 0; i < 40; i++) records.Add($"--txt-record=_dnsaddr.big.test,\"dnsaddr=/ip4/10.0.0.{i}/tcp/4001/p2p/{PeerA}\"");
        _dns = await Dnsmasq.StartAsync(records, timeout.Token);
    }

    [OneTimeTearDown]
    public void StopServer() => _dns?.Dispose();

    private DnsResolver Resolver(TimeProvider? time = null) =>
        new(new DnsResolverOptions { Servers = [_dns.EndPoint], Timeout = TimeSpan.FromSeconds(2) }, time);

    private MultiaddrResolver Addresses(DnsResolver? resolver = null) => new(resolver ?? Resolver());

    [Test]
    [CancelAfter(10_000)]
    public async Task Dns4Dns6AndDnsResolveToIpAddresses(CancellationToken cancellationToken)
    {
        var resolver = Addresses();
        Assert.That(await resolver.ResolveAsync(Multiaddr.Parse($"/dns4/node1.test/tcp/4001/p2p/{PeerA}"), cancellationToken),
            Is.EqualTo(new[] { Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{PeerA}") }));
        Assert.That(await resolver.ResolveAsync(Multiaddr.Parse("/dns6/node1.test/tcp/4001"), cancellationToken),
            Is.EqualTo(new[] { Multiaddr.Parse("/ip6/::1/tcp/4001") }));
        Assert.That(await resolver.ResolveAsync(Multiaddr.Parse("/dns/node1.test/tcp/1"), cancellationToken),
            Is.EquivalentTo(new[] { Multiaddr.Parse("/ip4/127.0.0.1/tcp/1"), Multiaddr.Parse("/ip6/::1/tcp/1") }));
        Assert.That(await resolver.ResolveAsync(Multiaddr.Parse("/dns6/v4only.test/tcp/1"), cancellationToken), Is.Empty, "no AAAA");
        var ip = Multiaddr.Parse("/ip4/10.1.1.1/tcp/1");
        Assert.That(await resolver.ResolveAsync(ip, cancellationToken), Is.EqualTo(new[] { ip }));
    }

    [Test]
    [CancelAfter(10_000)]
    public async Task DnsaddrFollowsNestedEntriesAndSkipsOtherText(CancellationToken cancellationToken)
    {
        var resolved = await Addresses().ResolveAsync(Multiaddr.Parse("/dnsaddr/boot.test"), cancellationToken);
        Assert.That(resolved, Is.EquivalentTo(new[]
        {
            Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{PeerA}"),
            Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4002/p2p/{PeerB}"),
            Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4003/p2p/{PeerC}"),
            Multiaddr.Parse($"/ip6/::1/tcp/4004/p2p/{PeerC}"),
        }));
    }

    [Test]
    [CancelAfter(10_000)]
    public async Task APeerIdSuffixKeepsOnlyThatPeersEntries(CancellationToken cancellationToken)
    {
        var resolver = Addresses();
        Assert.That(await resolver.ResolveAsync(Multiaddr.Parse($"/dnsaddr/boot.test/p2p/{PeerB}"), cancellationToken),
            Is.EqualTo(new[] { Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4002/p2p/{PeerB}") }));
        Assert.That(await resolver.ResolveAsync(Multiaddr.Parse($"/dnsaddr/boot.test/p2p/{PeerC}"), cancellationToken),
            Has.Count.EqualTo(2).And.All.Matches<Multiaddr>(a => a.PeerId == PeerC), "found through the nested dnsaddr");
    }

    [Test]
    [CancelAfter(10_000)]
    public async Task NxdomainAndEmptyAnswersGiveNoAddresses(CancellationToken cancellationToken)
    {
        var resolver = Resolver();
        var missing = await resolver.QueryAsync("missing.test", DnsRecordType.A, cancellationToken);
        Assert.That(missing.ResponseCode, Is.EqualTo(DnsResponseCode.NameError));
        Assert.That(missing.Records, Is.Empty);
        var addresses = Addresses(resolver);
        Assert.That(await addresses.ResolveAsync(Multiaddr.Parse("/dnsaddr/missing.test"), cancellationToken), Is.Empty);
        Assert.That(await addresses.ResolveAsync(Multiaddr.Parse("/dnsaddr/empty.test"), cancellationToken), Is.Empty);
        Assert.That(await addresses.ResolveAsync(Multiaddr.Parse("/dns4/missing.test/tcp/1"), cancellationToken), Is.Empty);
    }

    [Test]
    [CancelAfter(10_000)]
    public async Task SelfReferencingDnsaddrStopsAtTheDepthBound(CancellationToken cancellationToken)
    {
        var resolver = Resolver();
        var resolved = await Addresses(resolver).ResolveAsync(Multiaddr.Parse("/dnsaddr/loop.test"), cancellationToken);
        Assert.That(resolved, Is.Empty);
        Assert.That(resolver.QueriesSent, Is.EqualTo(1), "the loop is served from the cache after the first lookup");
    }

    [Test]
    [CancelAfter(10_000)]
    public async Task ALargeAnswerIsTruncatedOverUdpAndFetchedOverTcp(CancellationToken cancellationToken)
    {
        var resolved = await Addresses().ResolveAsync(Multiaddr.Parse("/dnsaddr/big.test"), cancellationToken);
        Assert.That(resolved, Has.Count.EqualTo(40));
        Assert.That(resolved, Is.All.Matches<Multiaddr>(a => a.PeerId == PeerA));
    }

    [Test]
    [CancelAfter(10_000)]
    public async Task PositiveAnswersAreCachedForSixtySecondsAndNegativeOnesForTen(CancellationToken cancellationToken)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var resolver = Resolver(time);
        Assert.That((await resolver.QueryAsync("node1.test", DnsRecordType.A, cancellationToken)).FromCache, Is.False);
        Assert.That((await resolver.QueryAsync("missing.test", DnsRecordType.A, cancellationToken)).FromCache, Is.False);
        Assert.That(resolver.QueriesSent, Is.EqualTo(2));

        time.Advance(TimeSpan.FromSeconds(9));
        Assert.That((await resolver.QueryAsync("NODE1.test.", DnsRecordType.A, cancellationToken)).FromCache, Is.True, "case and trailing dot");
        Assert.That((await resolver.QueryAsync("missing.test", DnsRecordType.A, cancellationToken)).FromCache, Is.True);
        Assert.That(resolver.QueriesSent, Is.EqualTo(2));

        time.Advance(TimeSpan.FromSeconds(2)); // 11 s: the negative entry is gone, the positive one stays
        Assert.That((await resolver.QueryAsync("missing.test", DnsRecordType.A, cancellationToken)).FromCache, Is.False);
        Assert.That((await resolver.QueryAsync("node1.test", DnsRecordType.A, cancellationToken)).FromCache, Is.True);
        Assert.That(resolver.QueriesSent, Is.EqualTo(3));

        time.Advance(TimeSpan.FromSeconds(50)); // 61 s: the positive entry expired although dnsmasq said TTL 300
        var refreshed = await resolver.QueryAsync("node1.test", DnsRecordType.A, cancellationToken);
        Assert.That(refreshed.FromCache, Is.False);
        Assert.That(refreshed.Records.Single(), Is.InstanceOf<AddressDnsRecord>().With.Property("Ttl").EqualTo(300u));
        Assert.That(resolver.QueriesSent, Is.EqualTo(4));
    }

    [Test]
    [CancelAfter(10_000)]
    public async Task AServerThatDoesNotAnswerFailsWithTheServerNamed(CancellationToken cancellationToken)
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // bound but never answers
        var endPoint = (IPEndPoint)silent.LocalEndPoint!;
        var resolver = new DnsResolver(new DnsResolverOptions { Servers = [endPoint], Timeout = TimeSpan.FromMilliseconds(300), Attempts = 2 });
        var error = Assert.ThrowsAsync<DnsResolutionException>(async () => await resolver.QueryAsync("node1.test", DnsRecordType.A, cancellationToken));
        Assert.That(error!.Message, Does.Contain(endPoint.ToString()).And.Contain("no answer"));
        Assert.That(resolver.QueriesSent, Is.EqualTo(2));
    }
}
