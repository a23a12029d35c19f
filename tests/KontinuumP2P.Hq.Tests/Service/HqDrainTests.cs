using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Audit;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq.Tests.Service;

/// <summary>Drain and decommission through HQ's SQLite state, on a fake clock (the end-to-end run is DrainFollowingTests).</summary>
public sealed class HqDrainTests
{
    private HqFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new HqFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    private static PeerId AddSpare(HqService hq, string provider)
    {
        var id = Ed25519Identity.Generate().PeerId;
        hq.Registry.AddSpare("test", new SpareEntry(id.ToString(), provider, "eu", "spares/x", null));
        return id;
    }

    [Test]
    public void A_drain_re_points_the_slot_to_a_spare_on_its_provider_and_keeps_its_groups()
    {
        using var hq = _f.Open();
        var fleet = HqFixture.AddFleet(hq, 3, 1);
        hq.AllocateGroup("test", "g1", MailboxRole.Replica, null);
        AddSpare(hq, "p1");
        var spare = AddSpare(hq, "p0");
        var before = hq.SlotRecordOf(fleet[0].Slot);
        var drain = hq.DrainSlot("operator", fleet[0].Slot, TimeSpan.FromDays(7));
        Assert.That((drain.OldNode, drain.NewNode, drain.Delivered), Is.EqualTo((fleet[0].Node.ToString(), spare.ToString(), false)));
        var record = hq.SlotRecordOf(fleet[0].Slot);
        Assert.That((record.NodeId, record.Sequence), Is.EqualTo((spare, before.Sequence + 1)));
        Assert.That(hq.Registry.Groups().Single().Slots, Does.Contain(fleet[0].Slot), "the group keeps its slot name");
        Assert.That(hq.Registry.GetSlot(fleet[0].Slot)!.Provider, Is.EqualTo("p0"));
        Assert.That(hq.UndeliveredDrains().Single().Record.NodeId, Is.EqualTo(spare));
        Assert.That(Assert.Throws<AllocationException>(() => hq.DrainSlot("operator", fleet[0].Slot, TimeSpan.Zero))!.Message,
            Does.Contain("no free spare on provider 'p0'"), "the spare is now the slot's node; a second drain needs another spare");
        Assert.That(Assert.Throws<AllocationException>(() => hq.DrainSlot("operator", fleet[2].Slot, TimeSpan.Zero))!.Message,
            Does.Contain("no free spare on provider 'p2'"));
        Assert.That(AuditLog.Verify(hq.Database, hq.PublicKey).IsValid, Is.True);
        Assert.That(hq.Audit.Tail(5).Select(e => e.Action), Does.Contain("slot.drain"));
    }

    [Test]
    public void An_ephemeral_drain_waits_the_TTL_then_decommissions()
    {
        using var hq = _f.Open();
        var node = Ed25519Identity.Generate().PeerId;
        hq.RegisterSlot("test", "eph-a", node, "p0", "eu", MailboxRole.Ephemeral, 100);
        AddSpare(hq, "p0");
        hq.DrainSlot("operator", "eph-a", TimeSpan.FromHours(1));
        _f.Time.Advance(TimeSpan.FromHours(1) - TimeSpan.FromSeconds(1));
        var refused = Assert.Throws<DrainNotReadyException>(() => hq.Decommission("operator", "eph-a", force: false))!;
        Assert.That(refused.Message, Does.Contain("ephemeral blobs may live until"));
        Assert.That(hq.Status().Drains.Single().Ready, Is.False);
        _f.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(hq.Status().Drains.Single().Ready, Is.True);
        Assert.That(hq.Decommission("operator", "eph-a", force: false).OldNode, Is.EqualTo(node.ToString()));
        Assert.That(hq.Status().Drains, Is.Empty);
        Assert.Throws<InvalidOperationException>(() => hq.Decommission("operator", "eph-a", force: false), "nothing left to decommission");
    }

    [Test]
    public void A_replica_drain_waits_for_a_settled_report_with_no_mailbox_holding_blobs_and_force_is_audited()
    {
        using var hq = _f.Open();
        var fleet = HqFixture.AddFleet(hq, 2, 1);
        AddSpare(hq, "p0");
        AddSpare(hq, "p1");
        var a = hq.DrainSlot("operator", fleet[0].Slot, TimeSpan.FromDays(7));
        Assert.That(hq.Status().Drains.Single().WaitingFor, Does.Contain("has not started the spare"));
        hq.Registry.DrainDelivered(a.Slot, a.OldNode); // HQ's node's tick
        Assert.That(hq.Status().Drains.Single().WaitingFor, Does.Contain("no drain report"));
        // Too early: clients may still be opening mailboxes on the old node.
        Assert.That(hq.OnDrainReport(PeerId.Parse(a.OldNode), 0, 0), Is.True);
        Assert.That(Assert.Throws<DrainNotReadyException>(() => hq.Decommission("operator", fleet[0].Slot, false))!.Message, Does.Contain("waiting for a drain report"));
        _f.Time.Advance(hq.DrainSettle);
        Assert.That(hq.OnDrainReport(PeerId.Parse(a.OldNode), 3, 2), Is.True);
        Assert.That(Assert.Throws<DrainNotReadyException>(() => hq.Decommission("operator", fleet[0].Slot, false))!.Message, Does.Contain("still holds 2 mailbox(es) with blobs (3 open)"));
        _f.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(hq.OnDrainReport(PeerId.Parse(a.OldNode), 1, 0), Is.True, "an idle mailbox without blobs loses nothing");
        Assert.That(hq.DrainProgressOf(fleet[0].Slot)!.CanDecommission(_f.Time.GetUtcNow()).Ready, Is.True);
        hq.Decommission("operator", fleet[0].Slot, false);

        // An idle group that never comes back: the operator decides, and the log says what was still waited for.
        hq.DrainSlot("operator", fleet[1].Slot, TimeSpan.FromDays(7));
        Assert.Throws<DrainNotReadyException>(() => hq.Decommission("operator", fleet[1].Slot, false));
        hq.Decommission("operator", fleet[1].Slot, force: true);
        var forced = hq.Audit.Tail(5).Single(e => e.Action == "slot.decommission-forced");
        Assert.That(forced.Detail, Does.Contain("no drain report"));
        Assert.That(hq.Registry.Drains().Select(d => d.Outcome), Is.EquivalentTo(new[] { "decommissioned", "forced" }));
        Assert.That(AuditLog.Verify(hq.Database, hq.PublicKey).IsValid, Is.True);
    }

    [Test]
    public void Drain_reports_from_other_nodes_store_nothing_and_a_flood_writes_at_most_once_a_second()
    {
        using var hq = _f.Open();
        var fleet = HqFixture.AddFleet(hq, 1, 1);
        AddSpare(hq, "p0");
        var drain = hq.DrainSlot("operator", fleet[0].Slot, TimeSpan.FromDays(7));
        var auditBefore = AuditLog.Verify(hq.Database, hq.PublicKey).Entries;
        for (var i = 0; i < 2_000; i++) Assert.That(hq.OnDrainReport(Ed25519Identity.Generate().PeerId, i, i), Is.False);
        Assert.That((hq.DrainReportsStored, hq.DrainReportsIgnored), Is.EqualTo((0L, 2_000L)));
        Assert.That(hq.Registry.Drains().Single().Report, Is.Null);
        var old = PeerId.Parse(drain.OldNode);
        for (var i = 0; i < 2_000; i++) hq.OnDrainReport(old, 5, 5);
        Assert.That((hq.DrainReportsStored, hq.DrainReportsIgnored), Is.EqualTo((1L, 3_999L)));
        _f.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(hq.OnDrainReport(old, 4, 4), Is.True);
        Assert.That(hq.Registry.Drains().Single().Report!.MailboxesWithBlobs, Is.EqualTo(4));
        Assert.That(AuditLog.Verify(hq.Database, hq.PublicKey).Entries, Is.EqualTo(auditBefore), "reports are not audited one by one");
        Assert.That(hq.Registry.Drains(), Has.Count.EqualTo(1));
    }

    [Test]
    public void The_receiver_takes_drain_reports_only_from_certified_mailbox_nodes()
    {
        using var hq = _f.Open();
        var anchors = KontinuumP2P.Certs.Trust.TrustAnchors.Create(_f.Authority.Network.Anchors!, TimeProvider.System);
        var receiver = new HqAlertReceiver(hq, () => anchors, null);
        using var node = Ed25519Identity.Generate();
        var notMailbox = _f.Authority.IssueCertificate(node, TimeSpan.FromDays(1), ["dht"]);
        Assert.That(receiver.Receive(new DrainReport(0, 0, _f.Time.GetUtcNow(), notMailbox)), Is.False);
        Assert.That(receiver.Refused, Is.EqualTo(1));
        var mailbox = _f.Authority.IssueCertificate(node, TimeSpan.FromDays(1), ["dht", "mailbox"]);
        Assert.That(receiver.Receive(new DrainReport(0, 0, _f.Time.GetUtcNow(), mailbox)), Is.False, "certified, but not being drained: ignored");
        Assert.That((receiver.Refused, hq.DrainReportsIgnored), Is.EqualTo((1L, 1L)));
    }
}
