using KontinuumP2P.Hq.Allocation;

namespace KontinuumP2P.Hq.Tests.Allocation;

public sealed class AllocatorTests
{
    private static readonly HashSet<string> None = [];

    [Test]
    public void Prefers_region_then_load_then_headroom_and_never_two_on_one_provider()
    {
        SlotInfo[] fleet =
        [
            new("a-eu", "p1", "eu", MailboxRole.Ephemeral, SlotStatus.Active, 50, 100),
            new("a-us", "p1", "us", MailboxRole.Ephemeral, SlotStatus.Active, 0, 100),
            new("b-eu-busy", "p2", "eu", MailboxRole.Ephemeral, SlotStatus.Active, 90, 100),
            new("b-eu", "p2", "eu", MailboxRole.Ephemeral, SlotStatus.Active, 10, 100),
            new("c-eu-big", "p3", "eu", MailboxRole.Ephemeral, SlotStatus.Active, 10, 1000),
            new("c-eu-small", "p3", "eu", MailboxRole.Ephemeral, SlotStatus.Active, 1, 10),
            new("d-eu-draining", "p4", "eu", MailboxRole.Ephemeral, SlotStatus.Draining, 0, 100),
            new("e-eu-replica", "p5", "eu", MailboxRole.Replica, SlotStatus.Active, 0, 100),
        ];
        var chosen = Allocator.AllocateGroup(fleet, MailboxRole.Ephemeral, "eu", None);
        Assert.That(chosen, Is.EqualTo(new[] { "c-eu-big", "b-eu", "a-eu" }));
    }

    [Test]
    public void Refuses_when_fewer_than_three_providers_are_usable()
    {
        SlotInfo[] fleet =
        [
            new("a", "p1", "eu", MailboxRole.Ephemeral, SlotStatus.Active, 0, 10),
            new("a2", "p1", "eu", MailboxRole.Ephemeral, SlotStatus.Active, 0, 10),
            new("b", "p2", "eu", MailboxRole.Ephemeral, SlotStatus.Active, 0, 10),
            new("c", "p3", "eu", MailboxRole.Ephemeral, SlotStatus.Active, 10, 10),
        ];
        var e = Assert.Throws<AllocationException>(() => Allocator.AllocateGroup(fleet, MailboxRole.Ephemeral, null, None));
        Assert.That(e!.Message, Does.Contain("only 2 provider(s)"));
        Assert.Throws<AllocationException>(() =>
            Allocator.AllocateGroup([.. fleet, new("d", "p4", "eu", MailboxRole.Ephemeral, SlotStatus.Active, 0, 10)], MailboxRole.Ephemeral, null, new HashSet<string> { "p4" }));
    }

    [Test]
    public void Replacement_spreads_over_surviving_providers()
    {
        // Provider p0 is gone; its 4 slots serve groups whose other slots are on p1+p2, so p3 and p4 are the only choices.
        var fleet = new List<SlotInfo>();
        var groups = new List<GroupSlots>();
        for (var i = 0; i < 4; i++)
        {
            fleet.Add(new($"p0-{i}", "p0", "eu", MailboxRole.Replica, SlotStatus.Down, 1, 10));
            fleet.Add(new($"p1-{i}", "p1", "eu", MailboxRole.Replica, SlotStatus.Active, 1, 10));
            fleet.Add(new($"p2-{i}", "p2", "eu", MailboxRole.Replica, SlotStatus.Active, 1, 10));
            groups.Add(new($"g{i}", [$"p0-{i}", $"p1-{i}", $"p2-{i}"]));
        }
        SpareIdentity[] spares = [.. Enumerable.Range(0, 4).SelectMany(i => new[] { new SpareIdentity($"s1-{i}", "p1", "eu"), new SpareIdentity($"s3-{i}", "p3", "eu"), new SpareIdentity($"s4-{i}", "p4", "eu") })];
        var plan = Allocator.PlanReplacements(fleet, groups, [.. fleet.Where(f => f.Provider == "p0").Select(f => f.Slot)], new HashSet<string> { "p0" }, spares);
        Assert.That(plan.Unplaced, Is.Empty);
        Assert.That(plan.Replacements.GroupBy(r => r.Spare.Provider).ToDictionary(g => g.Key, g => g.Count()),
            Is.EquivalentTo(new Dictionary<string, int> { ["p3"] = 2, ["p4"] = 2 }));
    }

    [Test]
    public void Replica_drain_waits_for_catch_up_and_ephemeral_drain_for_the_ttl()
    {
        var t0 = new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero);
        var replica = new DrainProgress("r", MailboxRole.Replica, ["g1", "g2"], TimeSpan.FromDays(7), t0);
        Assert.That(replica.CanDecommission(t0).Ready, Is.False);
        replica.GroupMoved("g1", t0);
        replica.GroupMoved("g2", t0);
        Assert.That(replica.CanDecommission(t0.AddYears(1)).Reason, Does.Contain("2 group(s) whose new replica"));
        replica.CaughtUp("g1");
        Assert.That(replica.CanDecommission(t0).Ready, Is.False);
        replica.CaughtUp("g2");
        Assert.That(replica.CanDecommission(t0).Ready, Is.True);

        var eph = new DrainProgress("e", MailboxRole.Ephemeral, ["g1"], TimeSpan.FromDays(7), t0);
        eph.GroupMoved("g1", t0.AddHours(1));
        Assert.That(eph.CanDecommission(t0.AddHours(1).AddDays(7).AddTicks(-1)).Ready, Is.False);
        Assert.That(eph.CanDecommission(t0.AddHours(1).AddDays(7)).Ready, Is.True);
    }
}
