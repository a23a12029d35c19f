using System.Net;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Discovery;
using KontinuumP2P.Net.Discovery.Mdns;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Discovery;

/// <summary>What a hostile sender on the LAN can and cannot do to the mDNS peer table and intake (no I/O).</summary>
[TestFixture]
public sealed class MdnsHostileInputTests
{
    private static readonly PeerId Victim = Ed25519Identity.Generate().PeerId;
    private static readonly IPAddress Real = IPAddress.Parse("10.0.0.4");
    private static readonly IPAddress Forger = IPAddress.Parse("10.0.0.3");
    private static readonly Multiaddr RealAddress = Multiaddr.Parse("/ip4/10.0.0.4/tcp/4001");
    private static readonly Multiaddr ForgedAddress = Multiaddr.Parse("/ip4/10.0.0.3/tcp/4001");
    private static readonly DateTimeOffset T0 = DateTimeOffset.UnixEpoch;

    [Test]
    public void ATtlOfDecadesIsCappedAtTheMaximum()
    {
        var table = new MdnsPeerTable(16, TimeSpan.FromSeconds(120));
        var peer = table.Update(new(Victim, [ForgedAddress], TimeSpan.FromDays(365 * 30), "x"), Forger, T0, out _);
        Assert.That(peer!.Ttl, Is.EqualTo(TimeSpan.FromSeconds(120)));
        Assert.That(table.Snapshot(T0.AddSeconds(119)), Has.Count.EqualTo(1));
        Assert.That(table.Snapshot(T0.AddSeconds(120)), Is.Empty, "gone when the capped TTL runs out");
    }

    [Test]
    public void AForgedGoodbyeRemovesOnlyTheForgersOwnRecords()
    {
        var table = new MdnsPeerTable(16, TimeSpan.FromSeconds(120));
        table.Update(new(Victim, [RealAddress], TimeSpan.FromSeconds(120), "v"), Real, T0, out _);
        Assert.That(table.Update(new(Victim, [RealAddress], TimeSpan.Zero, "v"), Forger, T0.AddSeconds(1), out _), Is.Null);
        Assert.That(table.Snapshot(T0.AddSeconds(2)).Single().Addresses, Is.EqualTo(new[] { RealAddress }));
    }

    [Test]
    public void AForgedAnnouncementNeverOutlivesTheRealPeerOnceAConnectionProvedWhichIsReal()
    {
        var table = new MdnsPeerTable(16, TimeSpan.FromSeconds(120));
        table.Update(new(Victim, [RealAddress], TimeSpan.FromSeconds(120), "v"), Real, T0, out _);
        var mixed = table.Update(new(Victim, [ForgedAddress], TimeSpan.FromDays(3650), "f"), Forger, T0.AddSeconds(1), out _);
        Assert.That(mixed!.Addresses, Is.EquivalentTo(new[] { RealAddress, ForgedAddress }), "before any proof both are candidates");

        Assert.That(table.Confirm(Victim, Real, T0.AddSeconds(2)), Is.True);
        Assert.That(table.Snapshot(T0.AddSeconds(2)).Single().Addresses, Is.EqualTo(new[] { RealAddress }), "the forger's records are dropped");
        Assert.That(table.Update(new(Victim, [ForgedAddress], TimeSpan.FromDays(3650), "f"), Forger, T0.AddSeconds(3), out _), Is.Null,
            "and its further announcements ignored");

        // The real peer leaves: nothing the forger said keeps it alive.
        table.Update(new(Victim, [RealAddress], TimeSpan.Zero, "v"), Real, T0.AddSeconds(4), out _);
        Assert.That(table.Snapshot(T0.AddSeconds(4)), Is.Empty);
    }

    [Test]
    public void WhenTheConfirmedSourceExpiresEveryRecordOfThePeerGoes()
    {
        var table = new MdnsPeerTable(16, TimeSpan.FromSeconds(120));
        table.Update(new(Victim, [ForgedAddress], TimeSpan.FromSeconds(120), "f"), Forger, T0, out _);
        table.Update(new(Victim, [RealAddress], TimeSpan.FromSeconds(30), "v"), Real, T0, out _);
        table.Confirm(Victim, Real, T0.AddSeconds(1));
        Assert.That(table.Snapshot(T0.AddSeconds(31)), Is.Empty, "the real one expired at 30 s; the forger said 120 s");
    }

    [Test]
    public void OnePeerIdCannotCollectUnboundedSources()
    {
        var table = new MdnsPeerTable(16, TimeSpan.FromSeconds(120), maxSourcesPerPeer: 4);
        for (var i = 1; i <= 4; i++)
        {
            table.Update(new(Victim, [Multiaddr.Parse($"/ip4/10.0.1.{i}/tcp/1")], TimeSpan.FromSeconds(60), "x"), IPAddress.Parse($"10.0.1.{i}"), T0, out var full);
            Assert.That(full, Is.False);
        }
        table.Update(new(Victim, [Multiaddr.Parse("/ip4/10.0.1.5/tcp/1")], TimeSpan.FromSeconds(60), "x"), IPAddress.Parse("10.0.1.5"), T0, out var refused);
        Assert.That(refused, Is.True);
        Assert.That(table.Snapshot(T0).Single().Addresses, Has.Count.EqualTo(4));
    }

    [Test]
    public async Task TheServiceDropsAnAnnouncementNamingAnotherHostsAddressAndObeysTheDialersProof()
    {
        await using var service = new MdnsService(Ed25519Identity.Generate().PeerId, () => []);
        var lan = new MdnsInterface("eth0", 2, IPAddress.Parse("10.0.0.1"), false, [IPAddress.Parse("10.0.0.1")]);
        byte[] Announce(Multiaddr address, TimeSpan ttl, string label) => MdnsPackets.BuildResponse(MdnsOptions.DefaultServiceName,
            $"{label}.{MdnsOptions.DefaultServiceName}", [address.WithPeerId(Victim)], ttl, 1400, out _);
        var fromForger = new IPEndPoint(Forger, 5353);
        var fromReal = new IPEndPoint(Real, 5353);

        service.HandlePacket(Announce(RealAddress, TimeSpan.FromSeconds(120), "f"), fromForger, lan);
        Assert.That(service.KnownPeers, Is.Empty, "the forger pointed the victim's id at an address that is not its own");
        Assert.That(service.Statistics.PacketsDropped, Is.EqualTo(1));

        service.HandlePacket(Announce(RealAddress, TimeSpan.FromSeconds(120), "v"), fromReal, lan);
        service.HandlePacket(Announce(RealAddress, TimeSpan.Zero, "f"), fromForger, lan);
        Assert.That(service.KnownPeers.Single().Addresses, Is.EqualTo(new[] { RealAddress }), "a forged goodbye changes nothing");

        service.HandlePacket(Announce(ForgedAddress, TimeSpan.FromDays(3650), "f"), fromForger, lan);
        Assert.That(service.KnownPeers.Single().Addresses, Has.Count.EqualTo(2));
        Assert.That(service.KnownPeers.Single().Ttl, Is.LessThanOrEqualTo(TimeSpan.FromSeconds(120)), "TTL capped");
        ((IDiscoveryFeedback)service).Connected(Victim, RealAddress);
        Assert.That(service.KnownPeers.Single().Addresses, Is.EqualTo(new[] { RealAddress }), "the dialer proved which source is real");
        service.HandlePacket(Announce(RealAddress, TimeSpan.Zero, "v"), fromReal, lan);
        Assert.That(service.KnownPeers, Is.Empty, "the real peer left and nothing the forger said keeps it");
    }

    [Test]
    public void OneFloodingSourceSpendsOnlyItsOwnAllowance()
    {
        var time = new FakeTimeProvider();
        var limiter = new MdnsSourceLimiter(time, perSecond: 10, burst: 20, maxSources: 8);
        var accepted = Enumerable.Range(0, 1000).Count(_ => limiter.TryTake(Forger));
        Assert.That(accepted, Is.EqualTo(20), "the burst, then nothing until tokens refill");
        Assert.That(limiter.TryTake(Real), Is.True, "another sender is unaffected");
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(Enumerable.Range(0, 1000).Count(_ => limiter.TryTake(Forger)), Is.EqualTo(10), "refills at the set rate");
    }

    [Test]
    public void TheSourceTableIsBoundedAndForgetsIdleSourcesFirst()
    {
        var time = new FakeTimeProvider();
        var limiter = new MdnsSourceLimiter(time, perSecond: 10, burst: 20, maxSources: 4);
        for (var i = 1; i <= 4; i++) Assert.That(limiter.TryTake(IPAddress.Parse($"10.0.2.{i}")), Is.True);
        Assert.That(limiter.TryTake(IPAddress.Parse("10.0.2.5")), Is.False, "full of sources that are all busy (spent a token < 0.1 s ago)");
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(limiter.TryTake(IPAddress.Parse("10.0.2.5")), Is.True, "idle buckets are evicted for a new source");
        Assert.That(limiter.Sources, Is.LessThanOrEqualTo(4));
    }
}
