using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Lookup;

/// <summary>An answer awaiting its verdict (admission) outlives the request timeout; lookup steps do not allocate.</summary>
public sealed class LookupVerdictTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Test]
    public void An_answer_awaiting_its_verdict_does_not_time_out_and_counts_when_it_succeeds()
    {
        var peers = TestPeers.Create(3, seed: 5);
        var options = new LookupOptions { Parallelism = 1, Termination = LookupTermination.StrictKClosest, ResultCount = 3 };
        var lookup = new ClosestPeersLookup(KadId.FromKey([4, 2]), peers, options, Start);
        var first = lookup.Poll(Start);
        lookup.OnResponseReceived(first.Peer!, Start + TimeSpan.FromSeconds(1));
        Assert.That(lookup.InFlight, Is.Zero, "the verdict wait holds no parallelism slot");
        var second = lookup.Poll(Start + TimeSpan.FromSeconds(1));
        Assert.That(second.Kind, Is.EqualTo(LookupActionKind.Request));

        // Far past the first request's deadline: only the second (still in flight) fails.
        var late = Start + options.RequestTimeout + TimeSpan.FromSeconds(20);
        var third = lookup.Poll(late);
        Assert.That(lookup.Statistics.Failures, Is.EqualTo(1));
        lookup.OnSuccess(first.Peer!, [], late);
        lookup.OnSuccess(third.Peer!, [], late);
        Assert.That(lookup.Poll(late).Kind, Is.EqualTo(LookupActionKind.Finished));
        Assert.That(lookup.Results(), Does.Contain(first.Peer));
        Assert.That(lookup.Statistics.Successes, Is.EqualTo(2));
    }

    [Test]
    public void The_lookup_waits_for_a_pending_verdict_before_ending_by_exhaustion()
    {
        var peers = TestPeers.Create(1, seed: 6);
        var lookup = new ClosestPeersLookup(KadId.FromKey([7]), peers, new LookupOptions(), Start);
        var only = lookup.Poll(Start);
        lookup.OnResponseReceived(only.Peer!, Start);
        Assert.That(lookup.Poll(Start + TimeSpan.FromSeconds(30)).Kind, Is.EqualTo(LookupActionKind.Wait));
        Assert.That(lookup.NextDeadline, Is.EqualTo(Start + new LookupOptions().QueryTimeout), "only the query deadline is left");
        lookup.OnFailure(only.Peer!, Start + TimeSpan.FromSeconds(31));
        Assert.That(lookup.Poll(Start + TimeSpan.FromSeconds(31)).Kind, Is.EqualTo(LookupActionKind.Finished));
    }

    [Test]
    public void Steps_that_learn_no_new_peers_do_not_allocate([Values(1, 2)] int disjointPaths)
    {
        // New candidates cost their own state; everything else a step does (poll, deadline, answer) must be free.
        var peers = TestPeers.Create(400, seed: 8);
        var options = new LookupOptions { Parallelism = 4, DisjointPaths = disjointPaths, ResultCount = 60, Termination = LookupTermination.StrictKClosest };
        var lookup = DisjointPathsLookup.Create(KadId.FromKey([1]), peers.Take(60), options, Start);
        IReadOnlyList<PeerId> none = [];
        // Warm up every path once (JIT, first-use statics), then measure many steps of request → answer.
        var now = Start;
        Step(lookup, none, ref now, 8);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var steps = Step(lookup, none, ref now, 30);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(steps, Is.GreaterThanOrEqualTo(30));
        Assert.That(allocated, Is.Zero);
    }

    private static int Step(IPeerLookup lookup, IReadOnlyList<PeerId> none, ref DateTimeOffset now, int count)
    {
        var done = 0;
        for (var i = 0; i < count; i++)
        {
            var action = lookup.Poll(now);
            if (action.Kind != LookupActionKind.Request) break;
            _ = lookup.NextDeadline;
            _ = lookup.InFlight;
            now += TimeSpan.FromMilliseconds(10);
            lookup.OnSuccess(action.Peer!, none, now);
            done++;
        }
        return done;
    }
}
