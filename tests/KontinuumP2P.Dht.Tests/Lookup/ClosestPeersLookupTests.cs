using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Lookup;

public sealed class ClosestPeersLookupTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Test]
    public void An_unanswered_request_fails_at_the_request_timeout_and_frees_its_slot()
    {
        var peers = TestPeers.Create(2, seed: 1);
        var options = new LookupOptions { Parallelism = 1 };
        var lookup = new ClosestPeersLookup(KadId.FromKey([1, 2, 3]), peers, options, Start);

        var first = lookup.Poll(Start);
        Assert.That(first.Kind, Is.EqualTo(LookupActionKind.Request));
        Assert.That(lookup.Poll(Start + TimeSpan.FromSeconds(9.9)).Kind, Is.EqualTo(LookupActionKind.Wait));
        Assert.That(lookup.NextDeadline, Is.EqualTo(Start + options.RequestTimeout));

        var second = lookup.Poll(Start + options.RequestTimeout);
        Assert.That(second.Kind, Is.EqualTo(LookupActionKind.Request));
        Assert.That(second.Peer, Is.Not.EqualTo(first.Peer));
        Assert.That(lookup.Statistics.Failures, Is.EqualTo(1));

        // A late answer from the timed-out peer is ignored.
        lookup.OnSuccess(first.Peer!, [], Start + TimeSpan.FromSeconds(11));
        Assert.That(lookup.Statistics.Successes, Is.Zero);
    }

    [Test]
    public void The_query_deadline_ends_the_lookup_even_with_requests_in_flight()
    {
        var peers = TestPeers.Create(5, seed: 2);
        var options = new LookupOptions { Parallelism = 3, RequestTimeout = TimeSpan.FromSeconds(120), QueryTimeout = TimeSpan.FromSeconds(60) };
        var lookup = new ClosestPeersLookup(KadId.FromKey([9]), peers, options, Start);
        for (var second = 0; second < 60; second++) lookup.Poll(Start + TimeSpan.FromSeconds(second));
        Assert.That(lookup.InFlight, Is.EqualTo(3));
        Assert.That(lookup.IsFinished, Is.False);
        Assert.That(lookup.Poll(Start + options.QueryTimeout).Kind, Is.EqualTo(LookupActionKind.Finished));
        Assert.That(lookup.Statistics.Duration, Is.EqualTo(options.QueryTimeout));
    }

    [Test]
    public void Finish_cancels_and_later_answers_change_nothing()
    {
        var peers = TestPeers.Create(10, seed: 3);
        var lookup = new ClosestPeersLookup(KadId.FromKey([7]), peers, new LookupOptions { Parallelism = 2 }, Start);
        var a = lookup.Poll(Start).Peer!;
        lookup.Finish(Start + TimeSpan.FromSeconds(1));
        lookup.OnSuccess(a, peers, Start + TimeSpan.FromSeconds(2));
        Assert.That(lookup.Poll(Start + TimeSpan.FromSeconds(3)).Kind, Is.EqualTo(LookupActionKind.Finished));
        Assert.That(lookup.Results(), Is.Empty);
        Assert.That(lookup.Statistics.Requests, Is.EqualTo(1));
    }

    [Test]
    public void No_seeds_finishes_at_once()
    {
        var lookup = new ClosestPeersLookup(KadId.FromKey([1]), [], new LookupOptions(), Start);
        Assert.That(lookup.Poll(Start).Kind, Is.EqualTo(LookupActionKind.Finished));
        Assert.That(lookup.Statistics.Hops, Is.Zero);
    }

    [Test]
    public void Hops_count_the_path_to_the_closest_answer()
    {
        var peers = TestPeers.Create(3, seed: 4);
        var target = KadId.FromPeer(peers[2]);
        var lookup = new ClosestPeersLookup(target, [peers[0]], new LookupOptions { Parallelism = 1, Termination = LookupTermination.StrictKClosest }, Start);
        Assert.That(lookup.Poll(Start).Peer, Is.EqualTo(peers[0]));
        lookup.OnSuccess(peers[0], [peers[1]], Start);
        Assert.That(lookup.Poll(Start).Peer, Is.EqualTo(peers[1]));
        lookup.OnSuccess(peers[1], [peers[2]], Start);
        Assert.That(lookup.Poll(Start).Peer, Is.EqualTo(peers[2]));
        lookup.OnSuccess(peers[2], [], Start);
        Assert.That(lookup.Poll(Start).Kind, Is.EqualTo(LookupActionKind.Finished));
        Assert.That(lookup.Statistics.Hops, Is.EqualTo(3));
        Assert.That(lookup.Results()[0], Is.EqualTo(peers[2]));
    }
}
