using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Audit;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq.Tests.Service;

/// <summary>HQ with no spares loses a provider: its slots are split over live mailboxes through the real registry.</summary>
public sealed class HqSplitTests
{
    private HqFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new HqFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public void Without_spares_every_down_slot_is_split_and_each_group_resolves_to_a_fourth_provider()
    {
        using var hq = _f.Open();
        var fleet = HqFixture.AddFleet(hq, 4, 3);
        for (var i = 0; i < 24; i++) hq.AllocateGroup("test", $"g{i:D2}", MailboxRole.Replica, "eu");
        var lost = fleet.Where(f => f.Provider == "p0").ToList();
        foreach (var s in lost) hq.Registry.SetStatus("test", s.Slot, SlotStatus.Down, "provider outage");
        var loadBefore = hq.Registry.Slots().Where(s => s.Status == SlotStatus.Active).Sum(s => s.AssignedGroups);

        Assert.That(hq.ReplaceDownSlots("hq"), Is.Empty, "no spare pool");
        var splits = hq.SplitDownSlots("hq");
        var used = lost.Where(s => hq.Registry.GetSlot(s.Slot)!.AssignedGroups > 0).Select(s => s.Slot).ToList();
        Assert.That(splits.Select(s => s.Split.Slot), Is.EquivalentTo(used));

        var validator = new SlotRecordValidator(() => TrustAnchors.Create(_f.Authority.Network.Anchors!, _f.Time), null);
        var records = splits.ToDictionary(s => s.Split.Slot, s => s.Record);
        foreach (var (split, record) in splits)
        {
            Assert.That(validator.Validate(SlotRecord.KeyFor(split.Slot), record.Encode()).IsValid, Is.True);
            Assert.That(record.Sequence, Is.EqualTo(2UL));
            Assert.That(record.Nodes.Select(n => n.Provider), Does.Not.Contain("p0"));
            Assert.That(hq.SlotRecordOf(split.Slot).Nodes, Is.EqualTo(record.Nodes), "a republish signs the same split");
        }
        // Each group resolves its split slot, as its client does, off the providers of its other two mailboxes.
        var nodeProvider = fleet.ToDictionary(f => f.Node, f => f.Provider);
        var slots = hq.Registry.Slots().ToDictionary(s => s.Slot);
        foreach (var g in hq.Registry.Groups())
        {
            var others = g.Slots.Where(s => slots[s].Status == SlotStatus.Active).Select(s => slots[s].Provider).ToList();
            if (g.Slots.SingleOrDefault(records.ContainsKey) is not { } split) continue; // a group with no mailbox on p0
            var node = records[split].NodeFor(others);
            Assert.That(node, Is.Not.Null, $"{g.GroupId} found no node");
            Assert.That(others.Append(nodeProvider[node!]).Distinct().Count(), Is.EqualTo(3), $"{g.GroupId} doubled a provider");
        }
        // The split groups now count on their hosts, and the split slots take no new groups.
        var loadAfter = hq.Registry.Slots().Where(s => s.Status == SlotStatus.Active).Sum(s => s.AssignedGroups);
        Assert.That(loadAfter - loadBefore, Is.EqualTo(splits.Sum(s => s.Split.Parts.Sum(p => p.Groups))));
        Assert.That(splits.Sum(s => s.Split.Parts.Sum(p => p.Groups)), Is.EqualTo(hq.Registry.Groups().Count(g => g.Slots.Any(records.ContainsKey))));
        Assert.That(hq.Status().Mailboxes.Where(m => records.ContainsKey(m.Slot)).Select(m => m.State), Is.All.EqualTo("split"));
        for (var i = 0; i < 10; i++)
            Assert.That(hq.AllocateGroup("test", $"new{i}", MailboxRole.Replica, "eu").Intersect(records.Keys), Is.Empty);
        Assert.That(hq.SplitDownSlots("hq"), Is.Empty, "nothing left to split");
        Assert.That(hq.Audit.Tail(200).Count(e => e.Action == "slot.split"), Is.EqualTo(splits.Count));
        Assert.That(AuditLog.Verify(hq.Database, hq.PublicKey).IsValid, Is.True);
    }

    [Test]
    public void A_split_whose_host_goes_down_is_planned_again_with_a_higher_sequence_and_survives_a_restart()
    {
        IReadOnlyList<(SlotSplit Split, SlotRecord Record)> first;
        string victim;
        using (var hq = _f.Open())
        {
            var fleet = HqFixture.AddFleet(hq, 4, 3);
            for (var i = 0; i < 12; i++) hq.AllocateGroup("test", $"g{i:D2}", MailboxRole.Replica, "eu");
            foreach (var s in fleet.Where(f => f.Provider == "p0")) hq.Registry.SetStatus("test", s.Slot, SlotStatus.Down, "outage");
            first = hq.SplitDownSlots("hq");
            Assert.That(first, Is.Not.Empty);
            victim = first[0].Split.Parts[0].HostSlot;
        }
        using var again = _f.Open();
        Assert.That(again.Splits().Select(s => s.Slot), Is.EquivalentTo(first.Select(s => s.Split.Slot)), "splits are kept in HQ's database");
        again.Registry.SetStatus("test", victim, SlotStatus.Down, "host lost");
        var replanned = again.SplitDownSlots("hq");
        var affected = first.Where(s => s.Split.Parts.Any(p => p.HostSlot == victim)).Select(s => s.Split.Slot).ToList();
        Assert.That(replanned.Select(r => r.Split.Slot), Is.SupersetOf(affected));
        foreach (var (split, record) in replanned.Where(r => affected.Contains(r.Split.Slot)))
        {
            Assert.That(split.Parts.Select(p => p.HostSlot), Does.Not.Contain(victim));
            Assert.That(record.Sequence, Is.GreaterThan(first.Single(f => f.Split.Slot == split.Slot).Record.Sequence));
        }
    }
}
