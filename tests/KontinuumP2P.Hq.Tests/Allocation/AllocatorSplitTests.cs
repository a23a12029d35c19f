using KontinuumP2P.Hq.Allocation;

namespace KontinuumP2P.Hq.Tests.Allocation;

/// <summary>
/// BLACK without a standby provider: every slot of one provider is down and no spare sits on a provider its groups
/// do not use. Splitting keeps diversity hard for every group, over random fleets drawn from fixed seeds.
/// </summary>
public sealed class AllocatorSplitTests
{
    private const string Lost = "p0";

    /// <summary>Fails every slot of <see cref="Lost"/>, splits them, and returns each group's providers as clients resolve them.</summary>
    private static (SplitPlan Plan, List<SlotInfo> Fleet, List<IReadOnlyList<string?>> Providers) Black(List<SlotInfo> fleet, List<GroupSlots> groups)
    {
        var failed = fleet.Where(s => s.Provider == Lost).Select(s => s.Slot).ToList();
        var down = fleet.Select(s => s.Provider == Lost ? s with { Status = SlotStatus.Down } : s).ToList();
        // No spares at all: the spare planner leaves every failed slot unplaced.
        var replacements = Allocator.PlanReplacements(down, groups, failed, new HashSet<string> { Lost }, []);
        Assert.That(replacements.Replacements, Is.Empty);
        var plan = Allocator.PlanSplits(down, groups, [], failed, new HashSet<string> { Lost });
        var split = plan.Splits.ToDictionary(s => s.Slot);
        var after = down.Select(s => split.ContainsKey(s.Slot) ? s with { Status = SlotStatus.Split } : s).ToList();
        return (plan, after, [.. groups.Select(g => Allocator.ProvidersOf(g, after, plan.Splits))]);
    }

    private static void AssertDiverse(List<IReadOnlyList<string?>> providers, int seed)
    {
        foreach (var p in providers)
        {
            var live = p.Where(x => x is not null).ToList();
            Assert.That(live.Distinct().Count(), Is.EqualTo(live.Count), $"seed {seed}: a group has two mailboxes on one provider ({string.Join(",", p)})");
            Assert.That(live, Does.Not.Contain(Lost), $"seed {seed}: a group still counts on the lost provider");
            Assert.That(live, Has.Count.GreaterThanOrEqualTo(2), $"seed {seed}: a group lost more than the lost provider's mailbox");
        }
    }

    // Hosts never take more than their capacity, and each part's count is exactly the groups whose client picks it.
    private static void AssertLoads(SplitPlan plan, List<SlotInfo> fleet, List<GroupSlots> groups, int seed)
    {
        var extra = plan.Splits.SelectMany(s => s.Parts).GroupBy(p => p.HostSlot).ToDictionary(g => g.Key, g => g.Sum(p => p.Groups));
        foreach (var s in fleet.Where(s => extra.ContainsKey(s.Slot)))
            Assert.That(s.AssignedGroups + extra[s.Slot], Is.LessThanOrEqualTo(s.CapacityGroups), $"seed {seed}: host {s.Slot} over capacity");
        foreach (var split in plan.Splits)
        {
            var members = groups.Where(g => g.Slots.Contains(split.Slot)).ToList();
            foreach (var part in split.Parts)
            {
                var picking = members.Count(g => Allocator.ProvidersOf(g, fleet, plan.Splits)[g.Slots.ToList().IndexOf(split.Slot)] == part.Provider);
                Assert.That(picking, Is.EqualTo(part.Groups), $"seed {seed}: part {split.Slot}/{part.Provider} counts {part.Groups}, clients pick it {picking} times");
            }
        }
    }

    [Test]
    public void Black_with_3_of_4_providers_healthy_puts_every_group_back_on_three_distinct_providers()
    {
        for (var seed = 0; seed < 120; seed++)
        {
            var rng = new Random(seed);
            // Load at most about half the fleet, so the survivors have the headroom a provider loss needs.
            var perProvider = rng.Next(2, 7);
            var (fleet, groups) = AllocatorPropertyTests.Build(seed, 4, perProvider, rng.Next(1, 1 + perProvider * 10));
            var (plan, after, providers) = Black(fleet, groups);
            AssertDiverse(providers, seed);
            AssertLoads(plan, after, groups, seed);
            Assert.That(plan.StrandedGroups, Is.Zero, $"seed {seed}");
            Assert.That(providers.Where(p => p.Count(x => x is not null) < 3), Is.Empty, $"seed {seed}: a group is not back on 3");
            Assert.That(plan.Splits.SelectMany(s => s.Parts).Select(p => p.Provider), Does.Not.Contain(Lost));
        }
    }

    [Test]
    public void Black_with_2_of_3_providers_healthy_never_doubles_a_provider()
    {
        for (var seed = 0; seed < 120; seed++)
        {
            var rng = new Random(seed);
            var (fleet, groups) = AllocatorPropertyTests.Build(seed, 3, rng.Next(1, 6), rng.Next(1, 60));
            var (plan, _, providers) = Black(fleet, groups);
            AssertDiverse(providers, seed);
            // Every group already uses both survivors: there is nowhere diverse to go, so nothing is split.
            Assert.That(plan.Splits, Is.Empty, $"seed {seed}");
            Assert.That(providers.All(p => p.Count(x => x is not null) == 2), Is.True, $"seed {seed}");
        }
    }

    [Test]
    public void Random_fleets_with_more_providers_keep_diversity_and_capacity()
    {
        for (var seed = 0; seed < 150; seed++)
        {
            var rng = new Random(seed);
            var (fleet, groups) = AllocatorPropertyTests.Build(seed, rng.Next(4, 7), rng.Next(1, 6), rng.Next(1, 150));
            var (plan, after, providers) = Black(fleet, groups);
            AssertDiverse(providers, seed);
            AssertLoads(plan, after, groups, seed);
            // A group is left on 2 only when no part fits it (a full fleet, or a slot no live node could take), and it is counted.
            Assert.That(providers.Count(p => p.Count(x => x is not null) < 3), Is.EqualTo(plan.StrandedGroups), $"seed {seed}");
        }
    }

    [Test]
    public void A_full_provider_is_left_out_and_its_groups_pick_another()
    {
        SlotInfo S(string slot, string provider, int assigned, int capacity, SlotStatus status = SlotStatus.Active) =>
            new(slot, provider, "eu", MailboxRole.Replica, status, assigned, capacity);
        // Both groups use p1 and p2. p3 is the emptier provider, but none of its nodes can take 2 more groups: it is
        // left out and both groups pick p4.
        var fleet = new List<SlotInfo>
        {
            S("a", "p0", 2, 10, SlotStatus.Down), S("b", "p1", 2, 10), S("c", "p2", 2, 10), S("d1", "p3", 9, 10), S("d2", "p3", 9, 10),
            S("e", "p4", 95, 100),
        };
        var groups = new List<GroupSlots> { new("g1", ["a", "b", "c"]), new("g2", ["a", "b", "c"]) };
        var plan = Allocator.PlanSplits(fleet, groups, [], ["a"], new HashSet<string> { "p0" });
        Assert.That(plan.Splits.Single().Parts, Is.EqualTo(new[] { new SplitPart("p4", "e", 2) }));
        Assert.That(plan.StrandedGroups, Is.Zero);
    }
}
