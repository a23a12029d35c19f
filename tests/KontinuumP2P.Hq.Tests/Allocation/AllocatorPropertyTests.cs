using FsCheck;
using FsCheck.Fluent;
using KontinuumP2P.Hq.Allocation;

namespace KontinuumP2P.Hq.Tests.Allocation;

public sealed class AllocatorPropertyTests
{
    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(150);
    private static readonly HashSet<string> NoIncident = [];

    private static Arbitrary<(int Seed, int Providers, int PerProvider, int Groups)> Scenarios() =>
        (from seed in Gen.Choose(0, int.MaxValue - 1)
         from providers in Gen.Choose(3, 6)
         from perProvider in Gen.Choose(1, 6)
         from groups in Gen.Choose(1, 150)
         select (seed, providers, perProvider, groups)).ToArbitrary();

    /// <summary>A fleet, and groups allocated one by one through <see cref="Allocator.AllocateGroup"/>.</summary>
    internal static (List<SlotInfo> Fleet, List<GroupSlots> Groups) Build(int seed, int providers, int perProvider, int groupCount)
    {
        var rng = new Random(seed);
        var regions = new[] { "eu", "us", "ap" };
        var fleet = new List<SlotInfo>();
        for (var p = 0; p < providers; p++)
        {
            for (var i = 0; i < perProvider; i++)
                fleet.Add(new SlotInfo($"mbx-p{p}-{i}", $"p{p}", regions[rng.Next(regions.Length)], MailboxRole.Replica, SlotStatus.Active, 0, rng.Next(10, 80)));
        }
        var groups = new List<GroupSlots>();
        for (var g = 0; g < groupCount; g++)
        {
            IReadOnlyList<string> slots;
            try
            {
                slots = Allocator.AllocateGroup(fleet, MailboxRole.Replica, regions[rng.Next(regions.Length)], NoIncident);
            }
            catch (AllocationException)
            {
                break; // the fleet is full
            }
            groups.Add(new GroupSlots($"g{g}", slots));
            foreach (var s in slots)
            {
                var i = fleet.FindIndex(x => x.Slot == s);
                fleet[i] = fleet[i] with { AssignedGroups = fleet[i].AssignedGroups + 1 };
            }
        }
        return (fleet, groups);
    }

    private static List<SpareIdentity> Spares(int providers, int each) =>
        [.. Enumerable.Range(0, providers).SelectMany(p => Enumerable.Range(0, each).Select(i => new SpareIdentity($"spare-p{p}-{i}", $"p{p}", "eu")))];

    private static List<SlotInfo> Apply(List<SlotInfo> fleet, ReplacementPlan plan, IEnumerable<string> failed)
    {
        var placed = plan.Replacements.ToDictionary(r => r.Slot, r => r.Spare);
        var down = failed.ToHashSet();
        return [.. fleet.Select(s => placed.TryGetValue(s.Slot, out var spare)
            ? s with { Provider = spare.Provider, Region = spare.Region, Status = SlotStatus.Active }
            : down.Contains(s.Slot) ? s with { Status = SlotStatus.Down } : s)];
    }

    [Test]
    public void New_groups_always_get_three_distinct_providers()
    {
        Check.One(Quick, Prop.ForAll(Scenarios(), s =>
        {
            var (fleet, groups) = Build(s.Seed, s.Providers, s.PerProvider, s.Groups);
            return Allocator.IsDiverse(fleet, groups)
                && groups.All(g => g.Slots.Count == 3 && g.Slots.Distinct().Count() == 3)
                && fleet.All(f => f.AssignedGroups <= f.CapacityGroups);
        }));
    }

    [Test]
    public void Replacing_random_failures_keeps_every_group_diverse()
    {
        Check.One(Quick, Prop.ForAll(Scenarios(), s =>
        {
            var (fleet, groups) = Build(s.Seed, s.Providers, s.PerProvider, s.Groups);
            var rng = new Random(s.Seed ^ 0x5a5a);
            var failed = fleet.Where(_ => rng.NextDouble() < 0.3).Select(f => f.Slot).ToList();
            var plan = Allocator.PlanReplacements(fleet, groups, failed, NoIncident, Spares(s.Providers + 1, 3));
            var after = Apply(fleet, plan, failed);
            return (Allocator.IsDiverse(after, groups).Label("a group has two mailboxes on one provider"))
                .And((plan.Replacements.Count + plan.Unplaced.Count == failed.Count).Label("a failed slot was neither placed nor reported"))
                .And((plan.Replacements.Select(r => r.Spare.Id).Distinct().Count() == plan.Replacements.Count).Label("a spare used twice"));
        }));
    }

    [Test]
    public void Black_with_two_of_three_providers_healthy_keeps_diversity_and_two_live_mailboxes_per_group()
    {
        Check.One(Quick, Prop.ForAll(Scenarios(), s =>
        {
            var (fleet, groups) = Build(s.Seed, 3, s.PerProvider, s.Groups);
            var failed = fleet.Where(f => f.Provider == "p0").Select(f => f.Slot).ToList();
            var plan = Allocator.PlanReplacements(fleet, groups, failed, new HashSet<string> { "p0" }, Spares(3, 10));
            var after = Apply(fleet, plan, failed);
            var live = after.Where(f => f.Status == SlotStatus.Active).Select(f => f.Slot).ToHashSet();
            var providerOf = after.ToDictionary(f => f.Slot, f => f.Provider);
            var twoLiveOnTwo = groups.All(g =>
            {
                var l = g.Slots.Where(live.Contains).ToList();
                return l.Count >= 2 && l.Select(x => providerOf[x]).Distinct().Count() == l.Count;
            });
            return Allocator.IsDiverse(after, groups).Label("diversity broken")
                .And(twoLiveOnTwo.Label("a group lost more than one mailbox"))
                .And(plan.Replacements.All(r => r.Spare.Provider != "p0").Label("replacement on the dead provider"));
        }));
    }

    [Test]
    public void Black_with_a_fourth_provider_spreads_replacements_there_and_restores_three()
    {
        Check.One(Quick, Prop.ForAll(Scenarios(), s =>
        {
            var (fleet, groups) = Build(s.Seed, 3, s.PerProvider, s.Groups);
            var failed = fleet.Where(f => f.Provider == "p0").Select(f => f.Slot).ToList();
            var plan = Allocator.PlanReplacements(fleet, groups, failed, new HashSet<string> { "p0" }, Spares(4, 10));
            var after = Apply(fleet, plan, failed);
            var inUse = groups.SelectMany(g => g.Slots).ToHashSet();
            return Allocator.IsDiverse(after, groups).Label("diversity broken")
                .And(failed.Where(inUse.Contains).All(f => plan.Replacements.Any(r => r.Slot == f && r.Spare.Provider == "p3"))
                    .Label("a used slot of the dead provider was not moved to the fourth provider"));
        }));
    }

    [Test]
    public void Rebalance_and_drain_keep_diversity_and_capacity()
    {
        Check.One(Quick, Prop.ForAll(Scenarios(), s =>
        {
            var (fleet, groups) = Build(s.Seed, s.Providers, s.PerProvider, s.Groups);
            var rebalance = Allocator.PlanRebalance(fleet, groups, 0.05, 1000);
            var (fleet2, groups2) = ApplyMoves(fleet, groups, rebalance);
            var drainSlot = fleet2[new Random(s.Seed).Next(fleet2.Count)].Slot;
            fleet2 = [.. fleet2.Select(f => f.Slot == drainSlot ? f with { Status = SlotStatus.Draining } : f)];
            var drain = Allocator.PlanDrain(fleet2, groups2, drainSlot);
            var (fleet3, groups3) = ApplyMoves(fleet2, groups2, drain);
            return Allocator.IsDiverse(fleet2, groups2).Label("rebalance broke diversity")
                .And(Allocator.IsDiverse(fleet3, groups3).Label("drain broke diversity"))
                .And(fleet3.All(f => f.AssignedGroups <= f.CapacityGroups).Label("over capacity"))
                .And(drain.All(m => m.From == drainSlot && m.To != drainSlot).Label("drain moved the wrong way"));
        }));
    }

    private static (List<SlotInfo>, List<GroupSlots>) ApplyMoves(List<SlotInfo> fleet, List<GroupSlots> groups, IReadOnlyList<GroupMove> moves)
    {
        var slots = groups.ToDictionary(g => g.GroupId, g => g.Slots.ToList());
        var assigned = fleet.ToDictionary(f => f.Slot, f => f.AssignedGroups);
        foreach (var m in moves)
        {
            var l = slots[m.GroupId];
            l[l.IndexOf(m.From)] = m.To;
            assigned[m.From]--;
            assigned[m.To]++;
        }
        return ([.. fleet.Select(f => f with { AssignedGroups = assigned[f.Slot] })],
            [.. slots.Select(kv => new GroupSlots(kv.Key, kv.Value))]);
    }
}
