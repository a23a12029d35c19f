using FsCheck;
using FsCheck.Fluent;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Routing;

public sealed class RoutingTableTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly IReadOnlyList<Multiaddr> NoAddresses = [];

    [Test]
    public void Never_holds_more_than_k_per_bucket_and_closest_matches_a_brute_force_sort()
    {
        var arb = (from seed in Gen.Choose(0, int.MaxValue - 1)
                   from count in Gen.Choose(0, 400)
                   from k in Gen.Choose(1, 20)
                   select (seed, count, k)).ToArbitrary();
        var property = Prop.ForAll(arb, s =>
        {
            var peers = TestPeers.Create(s.count + 1, s.seed);
            var table = new RoutingTable(peers[0], new RoutingTableOptions { BucketSize = s.k });
            foreach (var peer in peers.Skip(1)) table.TryAdd(peer, NoAddresses, Start);
            var perBucket = Enumerable.Range(0, KadId.Bits).All(i => table.BucketSize(i) <= s.k);
            var target = KadId.FromKey(BitConverter.GetBytes(s.seed));
            var expected = table.Snapshot().Select(e => e.PeerId).OrderBy(p => KadId.FromPeer(p).DistanceTo(target)).Take(20);
            var sumOfBuckets = Enumerable.Range(0, KadId.Bits).Sum(table.BucketSize);
            // The requester a server passes over: one of the closest entries when there are any (the case that needs a
            // deeper entry in its place), else a stranger.
            var excluded = table.Closest(target, 3).Select(e => e.PeerId).LastOrDefault() ?? peers[0];
            return perBucket.Label("bucket over k")
                .And(table.Closest(target, 20).Select(e => e.PeerId).SequenceEqual(expected).Label("closest differs"))
                .And(ClosestInto(table, target, 21).SequenceEqual(table.Closest(target, 21).Select(e => e.PeerId)).Label("ClosestInto differs"))
                .And(ClosestInto(table, target, 20, excluded).SequenceEqual(table.Closest(target, 21).Select(e => e.PeerId).Where(p => p != excluded).Take(20))
                    .Label("ClosestInto without the requester differs"))
                .And((sumOfBuckets == table.Count).Label("count drift"))
                .And((!table.Contains(peers[0])).Label("self admitted"));
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(50), property);
    }

    [Test]
    public void Closest_matches_a_brute_force_sort_for_targets_near_our_own_id_and_any_count()
    {
        // Targets sharing a long prefix with our id put the answer in the deep buckets, whose order the walk derives
        // from the bits of our id XOR the target; small buckets make many of them, and small counts stop the walk early.
        var arb = (from seed in Gen.Choose(0, int.MaxValue - 1)
                   from count in Gen.Choose(1, 300)
                   from k in Gen.Choose(1, 6)
                   from prefix in Gen.Choose(0, 12)
                   from take in Gen.Choose(1, 12)
                   select (seed, count, k, prefix, take)).ToArbitrary();
        var property = Prop.ForAll(arb, s =>
        {
            var peers = TestPeers.Create(s.count + 1, s.seed);
            var table = new RoutingTable(peers[0], new RoutingTableOptions { BucketSize = s.k });
            foreach (var peer in peers.Skip(1)) table.TryAdd(peer, NoAddresses, Start);
            var target = table.LocalId.RandomWithCommonPrefix(s.prefix, new Random(s.seed));
            var sorted = table.Snapshot().Select(e => e.PeerId).OrderBy(p => KadId.FromPeer(p).DistanceTo(target)).ToList();
            // The requester passed over: the closest entry, the case that needs one more entry from a later bucket.
            var excluded = sorted.FirstOrDefault() ?? peers[0];
            return table.Closest(target, s.take).Select(e => e.PeerId).SequenceEqual(sorted.Take(s.take)).Label("closest differs")
                .And(ClosestInto(table, target, s.take, excluded).SequenceEqual(sorted.Where(p => p != excluded).Take(s.take))
                    .Label("ClosestInto without the requester differs"));
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), property);
    }

    private static IEnumerable<PeerId> ClosestInto(RoutingTable table, KadId target, int count, PeerId? exclude = null)
    {
        // Arrays longer than needed, as a pool hands them out.
        var peers = new PeerId[count + 7];
        var addresses = new IReadOnlyList<Multiaddr>[count + 7];
        return peers.Take(table.ClosestInto(target, peers, addresses, count, exclude)).ToList();
    }

    [Test]
    public void A_full_bucket_names_its_least_recently_seen_entry_and_a_failed_ping_promotes_the_newest_replacement()
    {
        var self = TestPeers.Create(new Random(5));
        // Kademlia's policy (bucket 0 of an otherwise empty table would otherwise count as deep and go closest-first).
        var table = new RoutingTable(self, new RoutingTableOptions { BucketSize = 2, ReplacementCacheSize = 2, ClosestFirstDeepBuckets = false });
        // Fill bucket 0 (peers whose first bit differs from ours).
        var bucket0 = FindPeersInBucket(table, 0, 5, seed: 6);
        Assert.That(table.TryAdd(bucket0[0], NoAddresses, Start).Status, Is.EqualTo(RoutingTableAddStatus.Added));
        Assert.That(table.TryAdd(bucket0[1], NoAddresses, Start.AddSeconds(1)).Status, Is.EqualTo(RoutingTableAddStatus.Added));
        // Seeing peer 0 again makes peer 1 the least recently seen.
        Assert.That(table.TryAdd(bucket0[0], NoAddresses, Start.AddSeconds(2)).Status, Is.EqualTo(RoutingTableAddStatus.Updated));

        var full = table.TryAdd(bucket0[2], NoAddresses, Start.AddSeconds(3));
        Assert.That(full.Status, Is.EqualTo(RoutingTableAddStatus.BucketFull));
        Assert.That(full.LeastRecentlySeen, Is.EqualTo(bucket0[1]));
        table.TryAdd(bucket0[3], NoAddresses, Start.AddSeconds(4));

        Assert.That(table.Remove(bucket0[1]), Is.True);
        Assert.That(table.Contains(bucket0[3]), Is.True, "the newest replacement takes the freed place");
        Assert.That(table.Contains(bucket0[2]), Is.False);
        Assert.That(table.BucketSize(0), Is.EqualTo(2));

        // A successful ping keeps the entry and moves it to the most-recent end.
        Assert.That(table.MarkSeen(bucket0[0], Start.AddSeconds(5)), Is.True);
        Assert.That(table.TryAdd(bucket0[4], NoAddresses, Start.AddSeconds(6)).LeastRecentlySeen, Is.EqualTo(bucket0[3]));
    }

    [Test]
    public void Membership_changes_are_reported_for_entries_and_promoted_replacements_only()
    {
        var self = TestPeers.Create(new Random(5));
        var changes = new List<(PeerId Peer, bool Member)>();
        // Kademlia's replacement path (displacement by a closer peer has its own test in RoutingTableClosestFirstTests).
        var table = new RoutingTable(self, new RoutingTableOptions { BucketSize = 2, ReplacementCacheSize = 2, ClosestFirstDeepBuckets = false })
        {
            MembershipChanged = (peer, member) => changes.Add((peer, member)),
        };
        var bucket0 = FindPeersInBucket(table, 0, 3, seed: 6);
        table.TryAdd(bucket0[0], NoAddresses, Start);
        table.TryAdd(bucket0[1], NoAddresses, Start.AddSeconds(1));
        table.TryAdd(bucket0[0], NoAddresses, Start.AddSeconds(2)); // a refresh is no change
        table.TryAdd(bucket0[2], NoAddresses, Start.AddSeconds(3)); // bucket full: a replacement, not an entry
        Assert.That(changes, Is.EqualTo(new[] { (bucket0[0], true), (bucket0[1], true) }));

        table.Remove(bucket0[1]);
        Assert.That(changes.Skip(2), Is.EqualTo(new[] { (bucket0[1], false), (bucket0[2], true) }), "the promoted replacement becomes an entry");
    }

    [Test]
    public void Diversity_limits_groups_per_bucket_and_per_table_but_not_loopback_by_default()
    {
        var self = TestPeers.Create(new Random(7));
        var table = new RoutingTable(self);
        var bucket0 = FindPeersInBucket(table, 0, 3, seed: 8);
        var sameGroup = (IReadOnlyList<Multiaddr>)[Multiaddr.Parse("/ip4/203.0.113.1/tcp/4001")];
        Assert.That(table.TryAdd(bucket0[0], sameGroup, Start).Status, Is.EqualTo(RoutingTableAddStatus.Added));
        Assert.That(table.TryAdd(bucket0[1], [Multiaddr.Parse("/ip4/203.0.9.9/tcp/1")], Start).Status, Is.EqualTo(RoutingTableAddStatus.Added));
        Assert.That(table.TryAdd(bucket0[2], [Multiaddr.Parse("/ip4/203.0.7.7/tcp/1")], Start).Status,
            Is.EqualTo(RoutingTableAddStatus.RejectedDiversity), "two per /16 per bucket");

        var others = FindPeersInBucket(table, 1, 3, seed: 9);
        Assert.That(table.TryAdd(others[0], [Multiaddr.Parse("/ip4/203.0.5.5/tcp/1")], Start).Status, Is.EqualTo(RoutingTableAddStatus.Added));
        Assert.That(table.TryAdd(others[1], [Multiaddr.Parse("/ip4/203.0.6.6/tcp/1")], Start).Status,
            Is.EqualTo(RoutingTableAddStatus.RejectedDiversity), "three per /16 per table");
        Assert.That(table.TryAdd(others[1], [Multiaddr.Parse("/ip4/127.0.0.1/tcp/1")], Start).Status, Is.EqualTo(RoutingTableAddStatus.Added));

        var strict = new RoutingTable(self, new RoutingTableOptions { ApplyDiversityToLoopback = true, MaxPerGroupPerBucket = 1 });
        var loop = (IReadOnlyList<Multiaddr>)[Multiaddr.Parse("/ip4/127.0.0.1/tcp/1")];
        Assert.That(strict.TryAdd(bucket0[0], loop, Start).Status, Is.EqualTo(RoutingTableAddStatus.Added));
        Assert.That(strict.TryAdd(bucket0[1], loop, Start).Status, Is.EqualTo(RoutingTableAddStatus.RejectedDiversity));
    }

    [Test]
    public void Diversity_uses_the_observed_address_not_the_self_reported_one()
    {
        var self = TestPeers.Create(new Random(12));
        var table = new RoutingTable(self);
        var bucket0 = FindPeersInBucket(table, 0, 3, seed: 13);
        // Three Sybils on one /16 each claim an address in a different /16.
        var observed = (IReadOnlyList<Multiaddr>)[Multiaddr.Parse("/ip4/198.51.100.7/tcp/50000")];
        var statuses = bucket0.Select((peer, i) =>
            table.TryAdd(peer, [Multiaddr.Parse($"/ip4/{10 + i}.1.1.1/tcp/4001")], Start, observed).Status).ToList();
        Assert.That(statuses, Is.EqualTo(new[] { RoutingTableAddStatus.Added, RoutingTableAddStatus.Added, RoutingTableAddStatus.RejectedDiversity }),
            "two per /16 per bucket, counted where they really are");
    }

    [Test]
    public void Random_ids_with_a_prefix_land_in_that_bucket()
    {
        var self = TestPeers.Create(new Random(10));
        var table = new RoutingTable(self);
        var random = new Random(11);
        foreach (var bucket in new[] { 0, 1, 7, 63, 64, 200, 255 })
        {
            Assert.That(table.BucketIndex(table.LocalId.RandomWithCommonPrefix(bucket, random)), Is.EqualTo(bucket));
        }
    }

    internal static List<PeerId> FindPeersInBucket(RoutingTable table, int bucket, int count, int seed)
    {
        var random = new Random(seed);
        var found = new List<PeerId>();
        while (found.Count < count)
        {
            var peer = TestPeers.Create(random);
            if (table.BucketIndex(KadId.FromPeer(peer)) == bucket) found.Add(peer);
        }
        return found;
    }
}
