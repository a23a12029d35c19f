using FsCheck;
using FsCheck.Fluent;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Routing;

namespace KontinuumP2P.Dht.Tests.Lookup;

public sealed class ClosestPeersLookupPropertyTests
{
    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(60);

    private static Arbitrary<(int Seed, int Peers, int Alpha, bool Strict)> Scenarios() =>
        (from seed in Gen.Choose(0, int.MaxValue - 1)
         from peers in Gen.Choose(5, 160)
         from alpha in Gen.Choose(1, 12)
         from strict in Gen.Elements(true, false)
         select (seed, peers, alpha, strict)).ToArbitrary();

    [Test]
    public void Ends_never_exceeds_alpha_and_never_asks_a_peer_twice()
    {
        var property = Prop.ForAll(Scenarios(), s =>
        {
            var harness = new LookupHarness(s.Seed, s.Peers, deadShare: 0.15, failingShare: 0.1);
            var options = new LookupOptions
            {
                Parallelism = s.Alpha,
                Termination = s.Strict ? LookupTermination.StrictKClosest : LookupTermination.Beta,
            };
            var lookup = new ClosestPeersLookup(harness.Target, harness.RandomSeeds(20), options, harness.Now);
            var failure = harness.Run(lookup, s.Alpha);
            var results = lookup.Results();
            var sorted = results.SequenceEqual(harness.TrueClosest(results, results.Count));
            var answered = results.All(p => harness.Asked.Contains(p) && !harness.Dead.Contains(p) && !harness.Failing.Contains(p));
            return (failure is null).Label(failure ?? "")
                .And(sorted.Label("results not in distance order"))
                .And(answered.Label("a result did not answer"))
                .And((results.Count <= options.ResultCount).Label("too many results"))
                .And((harness.Now - new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero) <= options.QueryTimeout + options.RequestTimeout)
                    .Label("ran past the query deadline"));
        });
        Check.One(Quick, property);
    }

    [Test]
    public void Strict_mode_on_a_healthy_overlay_finds_exactly_the_k_closest()
    {
        var property = Prop.ForAll(Scenarios(), s =>
        {
            // Everyone knows its 25 nearest: a strict walk must end with the true k closest of the whole network.
            var harness = new LookupHarness(s.Seed, s.Peers, deadShare: 0, failingShare: 0, neighbours: 25);
            var options = new LookupOptions { Parallelism = s.Alpha, Termination = LookupTermination.StrictKClosest };
            var lookup = new ClosestPeersLookup(harness.Target, harness.RandomSeeds(3), options, harness.Now);
            var failure = harness.Run(lookup, s.Alpha);
            var expected = harness.TrueClosest(harness.Peers, options.ResultCount);
            return (failure is null).Label(failure ?? "").And(lookup.Results().SequenceEqual(expected).Label("not the true k closest"));
        });
        Check.One(Quick, property);
    }

    [Test]
    public void Beta_mode_ends_only_when_the_beta_closest_peers_it_learned_of_have_answered()
    {
        // What β termination promises: no peer the walk heard of and that is closer than its β results was left unasked.
        var property = Prop.ForAll(Scenarios(), s =>
        {
            var (harness, lookup, seeds, failure) = RunBeta(s.Seed, s.Peers, s.Alpha);
            // Only answers that reached the lookup: it may finish with requests still in flight.
            var learned = seeds.Concat(harness.Answered.SelectMany(a => harness.Knows[a])).Distinct();
            var beta = new LookupOptions().Beta;
            var expected = harness.TrueClosest(learned, beta);
            return (failure is null).Label(failure ?? "").And(lookup.Results().Take(beta).SequenceEqual(expected).Label("a closer known peer was not asked"));
        });
        Check.One(Quick, property);
    }

    // A scenario FsCheck found in CI: the lookup ended with a request in flight, and the property had counted the
    // peers named in that undelivered answer as learned. What the walk learned is what reached it.
    [TestCase(388794288, 160, 2)]
    public void Beta_mode_asks_every_closer_peer_whose_name_reached_it(int seed, int peers, int alpha)
    {
        var (harness, lookup, seeds, failure) = RunBeta(seed, peers, alpha);
        Assert.That(failure, Is.Null);
        var beta = new LookupOptions().Beta;
        var learned = seeds.Concat(harness.Answered.SelectMany(a => harness.Knows[a])).Distinct();
        Assert.That(lookup.Results().Take(beta), Is.EqualTo(harness.TrueClosest(learned, beta)));
        var heardOf = seeds.Concat(harness.Asked.SelectMany(a => harness.Knows[a])).Distinct();
        Assert.That(harness.TrueClosest(heardOf, beta), Is.Not.EqualTo(harness.TrueClosest(learned, beta)),
            "this scenario is the one where counting undelivered answers made the property fail");
    }

    [Test]
    public void Beta_mode_on_a_healthy_overlay_almost_always_finds_the_true_beta_closest()
    {
        // The true β closest of the whole network are a matter of probability (a walk can end in a region whose peers
        // all fail to name them: 2 of 3,000 scenarios at α = 1 and 2 when this was written), so this runs a fixed set
        // of 1,000 scenarios and bounds the miss rate.
        var random = new Random(1);
        var misses = 0;
        const int Runs = 1000;
        for (var i = 0; i < Runs; i++)
        {
            var (harness, lookup, _, failure) = RunBeta(random.Next(0, int.MaxValue - 1), random.Next(5, 161), random.Next(1, 13));
            Assert.That(failure, Is.Null);
            var beta = new LookupOptions().Beta;
            if (!lookup.Results().Take(beta).SequenceEqual(harness.TrueClosest(harness.Peers, beta))) misses++;
        }
        TestContext.Out.WriteLine($"β mode missed the true β closest in {misses} of {Runs} scenarios");
        Assert.That(misses, Is.LessThanOrEqualTo(Runs / 100), "β mode missed the true β closest in more than 1 % of healthy overlays");
    }

    private static (LookupHarness Harness, ClosestPeersLookup Lookup, List<KontinuumP2P.Core.Identity.PeerId> Seeds, string? Failure) RunBeta(int seed, int peers, int alpha)
    {
        var harness = new LookupHarness(seed, peers, deadShare: 0, failingShare: 0, neighbours: 25);
        var options = new LookupOptions { Parallelism = alpha, Termination = LookupTermination.Beta };
        var seeds = harness.RandomSeeds(3);
        var lookup = new ClosestPeersLookup(harness.Target, seeds, options, harness.Now);
        return (harness, lookup, seeds, harness.Run(lookup, alpha));
    }

    [Test]
    public void Disjoint_paths_never_share_a_peer_and_share_the_alpha_budget()
    {
        var arb = (from seed in Gen.Choose(0, int.MaxValue - 1)
                   from peers in Gen.Choose(20, 160)
                   from paths in Gen.Choose(2, 5)
                   from alpha in Gen.Choose(paths, 12)
                   select (seed, peers, paths, alpha)).ToArbitrary();
        var property = Prop.ForAll(arb, s =>
        {
            var harness = new LookupHarness(s.seed, s.peers, deadShare: 0.1, failingShare: 0.1);
            var options = new LookupOptions { Parallelism = s.alpha, DisjointPaths = s.paths };
            var lookup = new DisjointPathsLookup(harness.Target, harness.RandomSeeds(20), options, harness.Now);
            var failure = harness.Run(lookup, s.alpha);
            var queried = lookup.Paths.Select(p => p.QueriedPeers()).ToList();
            var total = queried.Sum(q => q.Count);
            var distinct = queried.SelectMany(q => q).Distinct().Count();
            return (failure is null).Label(failure ?? "")
                .And((total == distinct).Label($"paths overlap: {total} queries, {distinct} distinct peers"))
                .And((total == harness.Asked.Count).Label("a query is missing from the paths' records"));
        });
        Check.One(Quick, property);
    }
}
