using FsCheck;
using FsCheck.Fluent;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Routing;

/// <summary>
/// The table's answers that let the node skip useless requests (#16): whether a stranger could enter at all, and
/// whether an entry is stale enough to be worth a ping that may evict it.
/// </summary>
public sealed class RoutingTableLivenessTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly IReadOnlyList<Multiaddr> NoAddresses = [];

    [Test]
    public void With_every_entry_fresh_a_stranger_could_enter_exactly_when_adding_it_would_make_it_an_entry()
    {
        var arb = (from seed in Gen.Choose(0, int.MaxValue - 1)
                   from count in Gen.Choose(0, 500)
                   from k in Gen.Choose(1, 20)
                   from closestFirst in Gen.Elements(true, false)
                   select (seed, count, k, closestFirst)).ToArbitrary();
        var property = Prop.ForAll(arb, s =>
        {
            var peers = TestPeers.Create(s.count + 1, s.seed);
            var options = new RoutingTableOptions { BucketSize = s.k, ClosestFirstDeepBuckets = s.closestFirst };
            var table = new RoutingTable(peers[0], options);
            var twin = new RoutingTable(peers[0], options);
            var mismatches = 0;
            foreach (var peer in peers.Skip(1))
            {
                // Nothing was seen before Start, so no entry is stale: only room or a closer deep peer lets it in.
                var couldEnter = table.CouldEnter(peer, Start);
                var status = twin.TryAdd(peer, NoAddresses, Start).Status;
                table.TryAdd(peer, NoAddresses, Start);
                var entered = status is RoutingTableAddStatus.Added or RoutingTableAddStatus.AddedReplacingFarther;
                if (couldEnter != entered) mismatches++;
            }
            var entries = table.Snapshot().Select(e => e.PeerId).ToList();
            return (mismatches == 0).Label($"{mismatches} predictions wrong")
                .And(entries.All(p => !table.CouldEnter(p, Start.AddDays(1))).Label("an entry could enter again"))
                .And((!table.CouldEnter(peers[0], Start.AddDays(1))).Label("self could enter"));
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(40), property);
    }

    [Test]
    public void A_full_bucket_opens_to_strangers_only_once_its_least_recently_seen_entry_is_stale()
    {
        var self = TestPeers.Create(new Random(21));
        var table = new RoutingTable(self, new RoutingTableOptions { BucketSize = 2, ClosestFirstDeepBuckets = false });
        var bucket0 = RoutingTableTests.FindPeersInBucket(table, 0, 3, seed: 22);
        table.TryAdd(bucket0[0], NoAddresses, Start);
        table.TryAdd(bucket0[1], NoAddresses, Start.AddMinutes(5));

        Assert.That(table.CouldEnter(bucket0[2], Start), Is.False, "oldest entry heard from at the window's start");
        Assert.That(table.CouldEnter(bucket0[2], Start.AddMinutes(1)), Is.True, "oldest entry silent for longer than the window");
        Assert.That(table.IsStale(bucket0[0], Start.AddMinutes(1)), Is.True);
        Assert.That(table.IsStale(bucket0[1], Start.AddMinutes(1)), Is.False);
        Assert.That(table.IsStale(bucket0[2], Start.AddDays(1)), Is.False, "not an entry");

        // Hearing from the old entry again (a request of its own) makes it fresh and the bucket closed again.
        Assert.That(table.MarkSeen(bucket0[0], Start.AddMinutes(6)), Is.True);
        Assert.That(table.CouldEnter(bucket0[2], Start.AddMinutes(1)), Is.False);
        Assert.That(table.IsStale(bucket0[0], Start.AddMinutes(1)), Is.False);
    }
}
