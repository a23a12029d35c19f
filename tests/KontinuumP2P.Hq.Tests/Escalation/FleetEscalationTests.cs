using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Mailbox.Health;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Hq.Tests.Escalation;

public class FleetEscalationTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);
    private FakeTimeProvider _time = null!;
    private FleetEscalation _hq = null!;
    private readonly PeerId[] _mailboxes = [.. Enumerable.Range(0, 4).Select(_ => Ed25519Identity.Generate().PeerId)];

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
        _hq = new FleetEscalation(new EscalationOptions(), _time);
        // The reporters are fleet members: each holds a slot of its own.
        for (var i = 0; i < _mailboxes.Length; i++) _hq.SetSlot($"rep-{i}", _mailboxes[i], "px");
    }

    private HealthTarget AddSlot(string slot, string provider)
    {
        var node = Ed25519Identity.Generate().PeerId;
        _hq.SetSlot(slot, node, provider);
        return new HealthTarget(slot, node);
    }

    [Test]
    public void Yellow_and_orange_follow_one_mailbox_but_red_needs_two()
    {
        var t = AddSlot("mbx-a", "p1");
        Assert.That(_hq.OnAlert(_mailboxes[0], t, HealthLevel.Yellow).Transitions.Single().To, Is.EqualTo(HealthLevel.Yellow));
        Assert.That(_hq.OnAlert(_mailboxes[0], t, HealthLevel.Orange).Transitions.Single().To, Is.EqualTo(HealthLevel.Orange));
        // One RED is not confirmation.
        Assert.That(_hq.OnAlert(_mailboxes[0], t, HealthLevel.Red).Transitions, Is.Empty);
        Assert.That(_hq.Get("mbx-a")!.Level, Is.EqualTo(HealthLevel.Orange));
        // The same mailbox again is still one.
        Assert.That(_hq.OnAlert(_mailboxes[0], t, HealthLevel.Red).Transitions, Is.Empty);
        var red = _hq.OnAlert(_mailboxes[1], t, HealthLevel.Red).Transitions.Single();
        Assert.That(red.To, Is.EqualTo(HealthLevel.Red));
        Assert.That(red.RedConfirmations, Is.EqualTo(2));
    }

    [Test]
    public void Recovery_alerts_clear_the_slot()
    {
        var t = AddSlot("mbx-a", "p1");
        _hq.OnAlert(_mailboxes[0], t, HealthLevel.Red);
        _hq.OnAlert(_mailboxes[1], t, HealthLevel.Red);
        Assert.That(_hq.OnAlert(_mailboxes[0], t, HealthLevel.Green).Transitions.Single().To, Is.EqualTo(HealthLevel.Orange));
        Assert.That(_hq.OnAlert(_mailboxes[1], t, HealthLevel.Green).Transitions.Single().To, Is.EqualTo(HealthLevel.Green));
    }

    [Test]
    public void Alerts_about_a_replaced_node_an_unknown_slot_or_from_the_target_itself_are_ignored()
    {
        var t = AddSlot("mbx-a", "p1");
        Assert.That(_hq.OnAlert(_mailboxes[0], new HealthTarget("mbx-a", _mailboxes[3]), HealthLevel.Red).Transitions, Is.Empty);
        Assert.That(_hq.OnAlert(_mailboxes[0], new HealthTarget("mbx-zz", t.NodeId), HealthLevel.Red).Transitions, Is.Empty);
        Assert.That(_hq.OnAlert(t.NodeId, t, HealthLevel.Yellow).Transitions, Is.Empty);
        Assert.That(_hq.OnAlert(_mailboxes[0], t, HealthLevel.Black).Transitions, Is.Empty);
        Assert.That(_hq.Get("mbx-a")!.Level, Is.EqualTo(HealthLevel.Green));
    }

    [Test]
    public void A_new_node_for_the_slot_starts_green()
    {
        var t = AddSlot("mbx-a", "p1");
        _hq.OnAlert(_mailboxes[0], t, HealthLevel.Red);
        _hq.OnAlert(_mailboxes[1], t, HealthLevel.Red);
        var replaced = _hq.SetSlot("mbx-a", _mailboxes[3], "p2");
        Assert.That(replaced.Transitions.Single().To, Is.EqualTo(HealthLevel.Green));
        Assert.That(_hq.Get("mbx-a")!.Reporters, Is.Zero);
    }

    [Test]
    public void Alerts_expire_at_the_ttl_not_a_tick_earlier()
    {
        var t = AddSlot("mbx-a", "p1");
        _hq.OnAlert(_mailboxes[0], t, HealthLevel.Orange);
        _time.Advance(TimeSpan.FromMinutes(5) - Tick);
        Assert.That(_hq.Tick().Transitions, Is.Empty);
        _time.Advance(Tick);
        Assert.That(_hq.Tick().Transitions.Single().To, Is.EqualTo(HealthLevel.Green));
    }

    private void MakeRed(HealthTarget t)
    {
        _hq.OnAlert(_mailboxes[0], t, HealthLevel.Red);
        _hq.OnAlert(_mailboxes[1], t, HealthLevel.Red);
    }

    [Test]
    public void Black_at_the_third_red_of_one_provider_within_the_window_marks_every_slot_of_it()
    {
        var p1 = Enumerable.Range(0, 5).Select(i => AddSlot($"mbx-p1-{i}", "p1")).ToList();
        var p2 = AddSlot("mbx-p2-0", "p2");
        MakeRed(p1[0]);
        _time.Advance(TimeSpan.FromMinutes(4));
        MakeRed(p1[1]);
        Assert.That(_hq.ProviderIncidents, Is.Empty);
        _time.Advance(TimeSpan.FromMinutes(6) - Tick); // 10 min - 1 tick after the first
        _hq.OnAlert(_mailboxes[0], p1[2], HealthLevel.Red);
        var result = _hq.OnAlert(_mailboxes[1], p1[2], HealthLevel.Red);
        Assert.That(result.Incident, Is.Not.Null);
        Assert.That(result.Incident!.Provider, Is.EqualTo("p1"));
        Assert.That(result.Incident.Slots, Has.Count.EqualTo(5));
        Assert.That(p1.Select(t => _hq.Get(t.Slot)!.Level), Is.All.EqualTo(HealthLevel.Black));
        Assert.That(_hq.Get(p2.Slot)!.Level, Is.EqualTo(HealthLevel.Green));
        Assert.That(result.Transitions.Select(x => x.Slot), Is.EquivalentTo(p1.Select(t => t.Slot)));
    }

    [Test]
    public void Reds_spread_wider_than_the_window_or_over_providers_are_not_black()
    {
        var p1 = Enumerable.Range(0, 3).Select(i => AddSlot($"mbx-p1-{i}", "p1")).ToList();
        var p2 = AddSlot("mbx-p2-0", "p2");
        MakeRed(p1[0]);
        MakeRed(p2);
        _time.Advance(TimeSpan.FromMinutes(5));
        MakeRed(p1[1]);
        _time.Advance(TimeSpan.FromMinutes(5)); // first p1 RED is now exactly 10 min old: outside
        MakeRed(p1[2]);
        Assert.That(_hq.ProviderIncidents, Is.Empty);
        Assert.That(_hq.Get(p1[2].Slot)!.Level, Is.EqualTo(HealthLevel.Red));
    }

    [Test]
    public void Clearing_an_incident_returns_slots_to_their_alerts_and_a_moved_slot_leaves_it()
    {
        var p1 = Enumerable.Range(0, 4).Select(i => AddSlot($"mbx-p1-{i}", "p1")).ToList();
        foreach (var t in p1.Take(3)) MakeRed(t);
        Assert.That(_hq.Get(p1[3].Slot)!.Level, Is.EqualTo(HealthLevel.Black));
        _hq.SetSlot(p1[0].Slot, _mailboxes[3], "p2");
        Assert.That(_hq.Get(p1[0].Slot)!.Level, Is.EqualTo(HealthLevel.Green));
        var cleared = _hq.ClearProviderIncident("p1");
        Assert.That(_hq.Get(p1[3].Slot)!.Level, Is.EqualTo(HealthLevel.Green));
        Assert.That(_hq.Get(p1[1].Slot)!.Level, Is.EqualTo(HealthLevel.Red));
        Assert.That(cleared.Transitions, Has.Count.EqualTo(3));
    }

    [Test]
    public void Reporters_per_slot_are_bounded_and_only_fleet_members_count()
    {
        var hq = new FleetEscalation(new EscalationOptions { MaxReportersPerSlot = 4 }, _time);
        var node = Ed25519Identity.Generate().PeerId;
        hq.SetSlot("mbx-a", node, "p1");
        // A flood of alerts from ids that hold no slot is ignored and stores nothing.
        for (var i = 0; i < 1000; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.That(hq.OnAlert(Ed25519Identity.Generate().PeerId, new HealthTarget("mbx-a", node), HealthLevel.Red).Transitions, Is.Empty);
        }
        Assert.That(hq.Get("mbx-a")!.Reporters, Is.Zero);
        // Real members beyond the cap evict the stalest.
        var members = Enumerable.Range(0, 10).Select(i => Ed25519Identity.Generate().PeerId).ToList();
        for (var i = 0; i < members.Count; i++) hq.SetSlot($"mbx-m{i}", members[i], "p2");
        foreach (var m in members)
        {
            _time.Advance(TimeSpan.FromMilliseconds(1));
            hq.OnAlert(m, new HealthTarget("mbx-a", node), HealthLevel.Yellow);
        }
        Assert.That(hq.Get("mbx-a")!.Reporters, Is.EqualTo(4));
        Assert.That(hq.Get("mbx-a")!.Level, Is.EqualTo(HealthLevel.Yellow));
    }
}
