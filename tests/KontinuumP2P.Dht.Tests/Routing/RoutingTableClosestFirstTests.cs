using FsCheck;
using FsCheck.Fluent;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Routing;

/// <summary>The deep buckets keep our closest peers, whatever order peers answer in (issue #16 item 6).</summary>
public sealed class RoutingTableClosestFirstTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly IReadOnlyList<Multiaddr> NoAddresses = [];

    [Test]
    public void After_any_arrival_order_the_table_holds_the_k_closest_of_every_peer_offered()
    {
        var arb = (from seed in Gen.Choose(0, int.MaxValue - 1)
                   from count in Gen.Choose(1, 600)
                   from k in Gen.Choose(1, 20)
                   select (seed, count, k)).ToArbitrary();
        var property = Prop.ForAll(arb, s =>
        {
            var peers = TestPeers.Create(s.count + 1, s.seed);
            var table = new RoutingTable(peers[0], new RoutingTableOptions { BucketSize = s.k });
            foreach (var peer in peers.Skip(1)) table.TryAdd(peer, NoAddresses, Start);
            var expected = peers.Skip(1).OrderBy(p => KadId.FromPeer(p).DistanceTo(table.LocalId)).Take(s.k);
            return table.Closest(table.LocalId, s.k).Select(e => e.PeerId).SequenceEqual(expected).Label("a closer peer is missing")
                .And((Enumerable.Range(0, KadId.Bits).Sum(table.BucketSize) == table.Count).Label("count drift"));
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(60), property);
    }

    [Test]
    public void Membership_notifications_mirror_the_table_through_displacements_and_removals()
    {
        // The peer store protects exactly the peers these notifications name; a displaced entry that stayed "member"
        // would stay protected (and unevictable) for ever.
        var peers = TestPeers.Create(401, 7);
        var members = new HashSet<PeerId>();
        var table = new RoutingTable(peers[0], new RoutingTableOptions { BucketSize = 4 })
        {
            MembershipChanged = (peer, member) => { if (member) Assert.That(members.Add(peer), Is.True); else Assert.That(members.Remove(peer), Is.True); },
        };
        var displaced = 0;
        foreach (var peer in peers.Skip(1))
        {
            if (table.TryAdd(peer, NoAddresses, Start).Status == RoutingTableAddStatus.AddedReplacingFarther) displaced++;
        }
        foreach (var peer in peers.Skip(1).Where((_, i) => i % 3 == 0)) table.Remove(peer);
        Assert.That(displaced, Is.GreaterThan(0), "the arrivals exercised displacement");
        Assert.That(members, Is.EquivalentTo(table.Closest(table.LocalId, table.Count).Select(e => e.PeerId)));
    }

    [Test]
    public void Kademlias_policy_alone_misses_closer_peers_that_arrive_late()
    {
        // The control for the property above: the same arrivals without closest-first leave a closer peer out.
        var missed = 0;
        for (var seed = 0; seed < 20; seed++)
        {
            var peers = TestPeers.Create(401, seed);
            var table = new RoutingTable(peers[0], new RoutingTableOptions { BucketSize = 4, ClosestFirstDeepBuckets = false });
            foreach (var peer in peers.Skip(1)) table.TryAdd(peer, NoAddresses, Start);
            var expected = peers.Skip(1).OrderBy(p => KadId.FromPeer(p).DistanceTo(table.LocalId)).Take(4);
            if (!table.Closest(table.LocalId, 4).Select(e => e.PeerId).SequenceEqual(expected)) missed++;
        }
        Assert.That(missed, Is.GreaterThan(0));
    }

    [Test]
    public void A_closer_peer_displaces_the_farthest_entry_of_a_deep_bucket_and_a_farther_one_waits()
    {
        var self = TestPeers.Create(new Random(21));
        var table = new RoutingTable(self, new RoutingTableOptions { BucketSize = 3, ReplacementCacheSize = 3 });
        var byDistance = RoutingTableTests.FindPeersInBucket(table, 0, 5, seed: 22)
            .OrderBy(p => KadId.FromPeer(p).DistanceTo(table.LocalId)).ToList();
        // The three farthest arrive first and fill the bucket.
        foreach (var peer in byDistance.Skip(2)) Assert.That(table.TryAdd(peer, NoAddresses, Start).Status, Is.EqualTo(RoutingTableAddStatus.Added));

        var closer = table.TryAdd(byDistance[1], NoAddresses, Start);
        Assert.That(closer.Status, Is.EqualTo(RoutingTableAddStatus.AddedReplacingFarther));
        Assert.That(closer.LeastRecentlySeen, Is.EqualTo(byDistance[4]), "the farthest entry made room");
        Assert.That(table.Contains(byDistance[4]), Is.False);
        Assert.That(table.Count, Is.EqualTo(3));

        // A peer farther than every entry waits in the replacement cache, and the oldest entry is named for a ping.
        Assert.That(table.TryAdd(byDistance[4], NoAddresses, Start).Status, Is.EqualTo(RoutingTableAddStatus.BucketFull));

        // The closest peer displaces the next farthest.
        Assert.That(table.TryAdd(byDistance[0], NoAddresses, Start).LeastRecentlySeen, Is.EqualTo(byDistance[3]));
        // Removing an entry promotes the closest replacement, not the most recent one (4 is made the most recent).
        Assert.That(table.TryAdd(byDistance[4], NoAddresses, Start).Status, Is.EqualTo(RoutingTableAddStatus.BucketFull));
        Assert.That(table.Remove(byDistance[0]), Is.True);
        Assert.That(table.Contains(byDistance[3]), Is.True, "the closer replacement was promoted");
        Assert.That(table.Contains(byDistance[4]), Is.False);
    }

    [Test]
    public void A_shallow_bucket_keeps_its_long_lived_entries()
    {
        var self = TestPeers.Create(new Random(23));
        var table = new RoutingTable(self, new RoutingTableOptions { BucketSize = 2 });
        // Fill two deeper buckets so bucket 0 is no longer deep (k = 2 entries lie deeper).
        foreach (var peer in RoutingTableTests.FindPeersInBucket(table, 1, 2, seed: 24)) table.TryAdd(peer, NoAddresses, Start);
        var shallow = RoutingTableTests.FindPeersInBucket(table, 0, 3, seed: 25)
            .OrderBy(p => KadId.FromPeer(p).DistanceTo(table.LocalId)).ToList();
        table.TryAdd(shallow[2], NoAddresses, Start);
        table.TryAdd(shallow[1], NoAddresses, Start);
        var result = table.TryAdd(shallow[0], NoAddresses, Start);
        Assert.That(result.Status, Is.EqualTo(RoutingTableAddStatus.BucketFull));
        Assert.That(result.LeastRecentlySeen, Is.EqualTo(shallow[2]));
        Assert.That(table.Contains(shallow[0]), Is.False);
    }
}
