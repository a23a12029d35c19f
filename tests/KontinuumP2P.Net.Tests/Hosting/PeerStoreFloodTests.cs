using System.Diagnostics;
using System.Security.Cryptography;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Hosting;

/// <summary>Issue #11 item 5: floods of names or fresh identities cannot push out the peers we deal with.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class PeerStoreFloodTests
{
    private static readonly Multiaddr Somewhere = Multiaddr.Parse("/ip4/10.1.2.3/tcp/4001");

    [Test]
    public void A_flood_of_second_hand_names_stays_in_its_pool_and_expires()
    {
        var clock = new FakeTimeProvider();
        var store = new PeerStore(capacity: 100, secondHandCapacity: 25, secondHandTtl: TimeSpan.FromMinutes(2), clock);
        var known = Enumerable.Range(0, 50).Select(_ => RandomPeer()).ToList();
        foreach (var peer in known) store.AddAddresses(peer, [Somewhere], TimeSpan.FromHours(1));

        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 100_000; i++) store.AddSecondHandAddresses(RandomPeer(), [Somewhere], TimeSpan.FromHours(1));
        TestContext.Out.WriteLine($"100,000 second-hand names in {watch.ElapsedMilliseconds} ms; {store.Count} peers kept");

        Assert.That(store.SecondHandCount, Is.EqualTo(25));
        Assert.That(store.Count, Is.EqualTo(75));
        Assert.That(known.All(p => store.GetAddresses(p).Count == 1), "every first-hand peer kept its address");

        // A one-hour TTL offered second-hand is cut to the store's second-hand lifetime.
        var named = RandomPeer();
        store.AddSecondHandAddresses(named, [Somewhere], TimeSpan.FromHours(1));
        clock.Advance(TimeSpan.FromMinutes(3));
        Assert.That(store.GetAddresses(named), Is.Empty);
        Assert.That(store.GetAddresses(known[0]), Has.Count.EqualTo(1));
    }

    [Test]
    public void Fresh_identities_cannot_evict_protected_peers_and_the_bound_holds()
    {
        var store = new PeerStore(capacity: 200, secondHandCapacity: 50, secondHandTtl: TimeSpan.FromMinutes(2), new FakeTimeProvider());
        var table = Enumerable.Range(0, 40).Select(_ => RandomPeer()).ToList();
        var connected = Enumerable.Range(0, 40).Select(_ => RandomPeer()).ToList();
        foreach (var peer in table)
        {
            // Routing-table peers are often learnt second-hand first; protection moves them to the first-hand pool.
            store.AddSecondHandAddresses(peer, [Somewhere], TimeSpan.FromMinutes(1));
            store.Protect(peer, "kad-routing-table");
            store.AddAddresses(peer, [Somewhere], TimeSpan.FromHours(1));
        }
        foreach (var peer in connected)
        {
            store.Protect(peer, "connected");
            store.AddAddresses(peer, [Somewhere], TimeSpan.FromHours(1));
        }

        // ~10,000 handshakes with fresh keys each leave a first-hand entry (key, address, identify).
        for (var i = 0; i < 10_000; i++)
        {
            var attacker = RandomPeer();
            store.AddAddresses(attacker, [Somewhere], TimeSpan.FromHours(1));
            store.SetAgentVersion(attacker, "flood");
            Assert.That(store.Count, Is.LessThanOrEqualTo(200 + 50));
        }

        Assert.That(store.Count, Is.EqualTo(200));
        Assert.That(table.Concat(connected).All(p => store.GetAddresses(p).Count == 1), "every protected peer kept its address");
        Assert.That(table.All(store.IsProtected), Is.True);

        // Unprotected, they are ordinary entries again and the next flood may evict them.
        Assert.That(store.Unprotect(connected[0], "connected"), Is.False);
        for (var i = 0; i < 500; i++) store.AddAddresses(RandomPeer(), [Somewhere], TimeSpan.FromHours(1));
        Assert.That(store.Get(connected[0]), Is.Null);
        Assert.That(store.Get(connected[1]), Is.Not.Null);
    }

    [Test]
    public void A_pool_full_of_protected_peers_refuses_new_unprotected_ones()
    {
        var store = new PeerStore(capacity: 3, secondHandCapacity: 1, secondHandTtl: TimeSpan.FromMinutes(2), new FakeTimeProvider());
        var protectedPeers = Enumerable.Range(0, 3).Select(_ => RandomPeer()).ToList();
        foreach (var peer in protectedPeers) store.Protect(peer, "connected");
        var stranger = RandomPeer();
        store.AddAddresses(stranger, [Somewhere], TimeSpan.FromHours(1));
        Assert.That(store.Get(stranger), Is.Null);
        Assert.That(store.Count, Is.EqualTo(3));
        Assert.That(store.Unprotect(protectedPeers[0], "connected"), Is.False);
        store.AddAddresses(stranger, [Somewhere], TimeSpan.FromHours(1));
        Assert.That(store.Get(stranger), Is.Not.Null);
        Assert.That(store.Get(protectedPeers[0]), Is.Null, "the unprotected one was the least recently updated");
    }

    [Test]
    public void A_second_hand_peer_that_identifies_itself_becomes_first_hand()
    {
        var store = new PeerStore(capacity: 10, secondHandCapacity: 1, secondHandTtl: TimeSpan.FromMinutes(2), new FakeTimeProvider());
        var peer = RandomPeer();
        store.AddSecondHandAddresses(peer, [Somewhere], TimeSpan.FromHours(1));
        Assert.That(store.SecondHandCount, Is.EqualTo(1));
        store.SetProtocols(peer, ["/ipfs/id/1.0.0"]);
        Assert.That(store.SecondHandCount, Is.Zero);
        store.AddSecondHandAddresses(RandomPeer(), [Somewhere], TimeSpan.FromHours(1));
        store.AddSecondHandAddresses(RandomPeer(), [Somewhere], TimeSpan.FromHours(1));
        Assert.That(store.Get(peer), Is.Not.Null);
        Assert.That(store.Count, Is.EqualTo(2));
    }

    [Test]
    public async Task A_host_keeps_its_connected_peer_while_fresh_identities_connect_and_leave(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var listener = await hosts.StartAsync(ct, o => new PeerHostOptions
        {
            Identity = o.Identity,
            Transports = o.Transports,
            ListenAddresses = o.ListenAddresses,
            PeerStoreCapacity = 4,
            PeerStoreSecondHandCapacity = 2,
        });
        var honest = await hosts.StartAsync(ct);
        await honest.DialAsync(TestHosts.AddressOf(listener), ct);
        await TestHosts.WaitUntilAsync(() => listener.PeerStore.Get(honest.PeerId)?.Protocols.Count > 0, ct, 20_000);

        for (var i = 0; i < 12; i++)
        {
            var stranger = await hosts.StartAsync(ct);
            var connection = await stranger.DialAsync(TestHosts.AddressOf(listener), ct);
            await TestHosts.WaitUntilAsync(() => listener.Connections.Any(c => c.RemotePeer == stranger.PeerId), ct, 20_000);
            await connection.CloseAsync(ct);
            await TestHosts.WaitUntilAsync(() => listener.Connections.All(c => c.RemotePeer != stranger.PeerId), ct, 20_000);
            Assert.That(listener.PeerStore.Count, Is.LessThanOrEqualTo(4 + 2));
        }

        Assert.That(listener.PeerStore.Get(honest.PeerId), Is.Not.Null);
        Assert.That(listener.PeerStore.GetAddresses(honest.PeerId), Is.Not.Empty);
        Assert.That(((PeerStore)listener.PeerStore).IsProtected(honest.PeerId), Is.True);
    }

    private static PeerId RandomPeer()
    {
        // An identity multihash of a protobuf-encoded Ed25519 key: cheap fresh peer ids without key generation.
        Span<byte> bytes = stackalloc byte[38];
        bytes[0] = 0x00;
        bytes[1] = 36;
        bytes[2] = 0x08;
        bytes[3] = 0x01;
        bytes[4] = 0x12;
        bytes[5] = 0x20;
        RandomNumberGenerator.Fill(bytes[6..]);
        return PeerId.FromBytes(bytes);
    }
}
