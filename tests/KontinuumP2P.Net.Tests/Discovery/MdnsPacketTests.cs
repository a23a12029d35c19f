using System.Net;
using System.Text;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Discovery.Dns;
using KontinuumP2P.Net.Discovery.Mdns;

namespace KontinuumP2P.Net.Tests.Discovery;

/// <summary>mDNS rules that need no socket: what we answer, what we announce, what we accept.</summary>
[TestFixture]
public sealed class MdnsPacketTests
{
    private const string Service = MdnsOptions.DefaultServiceName;
    private const string Me = "me._p2p._udp.local";
    private static readonly PeerId Self = Ed25519Identity.FromSeed(new byte[32]).PeerId;
    private static readonly PeerId Other = Ed25519Identity.FromSeed(Enumerable.Repeat((byte)9, 32).ToArray()).PeerId;

    [Test]
    public void APrivateNetworkUsesItsOwnServiceName()
    {
        var options = new MdnsOptions { NetworkFingerprint = [0xab, 0x01, 0xff] };
        Assert.That(options.ServiceName, Is.EqualTo("_p2p-ab01ff._udp.local"));
        Assert.That(new MdnsOptions().ServiceName, Is.EqualTo("_p2p._udp.local"));
        Assert.That(() => new MdnsOptions { NetworkFingerprint = new byte[30] }.Validate(), Throws.ArgumentException, "over one DNS label");
        var publicQuery = DnsMessageReader.Decode(MdnsPackets.BuildQuery(Service));
        Assert.That(MdnsPackets.ShouldAnswer(publicQuery, options.ServiceName, Me, TimeSpan.FromSeconds(120), out _), Is.False);
    }

    [TestCase(DnsRecordType.Ptr, 1, true)]
    [TestCase(DnsRecordType.Any, 1, true)]
    [TestCase(DnsRecordType.Ptr, 0x8001, true)] // QU bit set
    [TestCase(DnsRecordType.Txt, 1, false)]
    [TestCase(DnsRecordType.Ptr, 3, false)]
    public void WhichQuestionsAreAnswered(DnsRecordType type, int @class, bool answered)
    {
        var query = DnsMessage.Query(0, 0, new DnsQuestion("_P2P._udp.LOCAL", type, (ushort)@class));
        Assert.That(MdnsPackets.ShouldAnswer(query, Service, Me, TimeSpan.FromSeconds(120), out _), Is.EqualTo(answered));
    }

    [TestCase(120u, false)]
    [TestCase(60u, false)]
    [TestCase(59u, true)]
    public void AKnownAnswerWithHalfItsTtlLeftSuppressesOurs(uint knownTtl, bool answered)
    {
        var query = new DnsMessage(0, 0, [new DnsQuestion(Service, DnsRecordType.Ptr)],
            [new NameDnsRecord(Service, DnsClass.Internet, knownTtl, DnsRecordType.Ptr, Me)], [], []);
        Assert.That(MdnsPackets.ShouldAnswer(query, Service, Me, TimeSpan.FromSeconds(120), out var suppressed), Is.EqualTo(answered));
        Assert.That(suppressed, Is.EqualTo(!answered));
    }

    [Test]
    public void AddressesOfAnotherPeerAndBadValuesAreIgnored()
    {
        var txt = new TxtDnsRecord("x._p2p._udp.local", 1, 120,
        [
            Encoding.ASCII.GetBytes($"dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/{Other}"),
            Encoding.ASCII.GetBytes($"dnsaddr=/ip4/10.0.0.2/tcp/1/p2p/{Self}"),
            Encoding.ASCII.GetBytes("dnsaddr=/ip4/10.0.0.3/tcp/1"),
            Encoding.ASCII.GetBytes("dnsaddr=/nonsense"),
            Encoding.ASCII.GetBytes("other=attribute"),
        ]);
        var unrelated = new TxtDnsRecord("y._p2p._udp.local", 1, 120, [Encoding.ASCII.GetBytes($"dnsaddr=/ip4/10.0.0.9/tcp/1/p2p/{Other}")]);
        var response = new DnsMessage(0, DnsMessage.ResponseFlag | DnsMessage.AuthoritativeFlag, [],
            [new NameDnsRecord(Service, 1, 120, DnsRecordType.Ptr, "x._p2p._udp.local")], [], [txt, unrelated]);
        var announcement = MdnsPackets.ReadAnnouncements(response, Service, Me, 8, out var rejected).Single();
        Assert.That(announcement.PeerId, Is.EqualTo(Other));
        Assert.That(announcement.Addresses, Is.EqualTo(new[] { Multiaddr.Parse("/ip4/10.0.0.1/tcp/1") }), "TXT from additionals, own instance only");
        Assert.That(rejected, Is.EqualTo(2), "the value without /p2p/ and the unparsable one");
    }

    [Test]
    public void AGoodbyeRemovesThePeerAndExpiryForgetsIt()
    {
        var table = new MdnsPeerTable(capacity: 2, maxTtl: TimeSpan.FromSeconds(120));
        var now = DateTimeOffset.UnixEpoch;
        var source = IPAddress.Parse("10.0.0.1");
        var addresses = new[] { Multiaddr.Parse("/ip4/10.0.0.1/tcp/1") };
        Assert.That(table.Update(new(Other, addresses, TimeSpan.FromSeconds(120), "x"), source, now, out _), Is.Not.Null, "new");
        Assert.That(table.Update(new(Other, addresses, TimeSpan.FromSeconds(120), "x"), source, now.AddSeconds(10), out _), Is.Null, "unchanged");
        Assert.That(table.Update(new(Other, [Multiaddr.Parse("/ip4/10.0.0.2/tcp/1")], TimeSpan.FromSeconds(120), "x"), source, now, out _), Is.Not.Null, "moved");
        Assert.That(table.Update(new(Other, addresses, TimeSpan.Zero, "x"), source, now, out _), Is.Null);
        Assert.That(table.Snapshot(now), Is.Empty, "goodbye");
        table.Update(new(Other, addresses, TimeSpan.FromSeconds(5), "x"), source, now, out _);
        Assert.That(table.Snapshot(now.AddSeconds(6)), Is.Empty, "expired");
        table.Update(new(Self, addresses, TimeSpan.FromSeconds(5), "a"), source, now, out _);
        table.Update(new(Other, addresses, TimeSpan.FromSeconds(5), "b"), source, now, out _);
        table.Update(new(Ed25519Identity.Generate().PeerId, addresses, TimeSpan.FromSeconds(5), "c"), source, now, out var full);
        Assert.That(full, Is.True, "bounded");
    }

    [Test]
    public async Task OnlyAddressesWeListenOnAreAnnouncedAndOnlyWhereTheyAreReachable()
    {
        var listen = new[]
        {
            Multiaddr.Parse("/ip4/0.0.0.0/tcp/4001"),
            Multiaddr.Parse("/ip4/127.0.0.1/tcp/4002"),
            Multiaddr.Parse("/ip4/8.8.8.8/tcp/4003"),
            Multiaddr.Parse("/ip6/fe80::1/tcp/4004"),
            Multiaddr.Parse("/dns4/example.test/tcp/4005"),
        };
        await using var service = new MdnsService(Self, () => listen);
        var lan = new MdnsInterface("eth0", 2, IPAddress.Parse("192.168.1.5"), false,
            [IPAddress.Parse("192.168.1.5"), IPAddress.Parse("fe80::2")]);
        var loopback = new MdnsInterface("lo", 1, IPAddress.Loopback, true, [IPAddress.Loopback, IPAddress.IPv6Loopback]);
        Assert.That(service.AdvertisedAddresses(lan).Select(a => a.ToString()),
            Is.EqualTo(new[] { $"/ip4/192.168.1.5/tcp/4001/p2p/{Self}" }), "wildcard expanded; loopback, public, link-local and DNS left out");
        Assert.That(service.AdvertisedAddresses(loopback).Select(a => a.ToString()),
            Is.EqualTo(new[] { $"/ip4/127.0.0.1/tcp/4001/p2p/{Self}", $"/ip4/127.0.0.1/tcp/4002/p2p/{Self}" }));
        await using var open = new MdnsService(Self, () => listen, new MdnsOptions { AdvertisePublicAddresses = true });
        Assert.That(open.AdvertisedAddresses(lan).Select(a => a.ToString()), Does.Contain($"/ip4/8.8.8.8/tcp/4003/p2p/{Self}"));
    }
}
