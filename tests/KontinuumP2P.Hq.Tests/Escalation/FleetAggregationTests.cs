using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Mailbox.Health;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Hq.Tests.Escalation;

/// <summary>HQ's per-slot level as an aggregation over independent mailboxes' alerts (no flapping).</summary>
public class FleetAggregationTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(5);
    private FakeTimeProvider _time = null!;
    private FleetEscalation _hq = null!;
    private PeerId[] _mailboxes = null!;
    private HealthTarget _target;

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero));
        _hq = new FleetEscalation(new EscalationOptions { AlertTtl = Ttl }, _time);
        _mailboxes = [.. Enumerable.Range(0, 3).Select(_ => Ed25519Identity.Generate().PeerId)];
        for (var i = 0; i < _mailboxes.Length; i++) _hq.SetSlot($"rep-{i}", _mailboxes[i], $"p{i}");
        var node = Ed25519Identity.Generate().PeerId;
        _hq.SetSlot("mbx-a", node, "p9");
        _target = new HealthTarget("mbx-a", node);
    }

    private HealthLevel Level => _hq.Get("mbx-a")!.Level;

    private List<FleetTransition> Alert(int mailbox, HealthLevel level) => [.. _hq.OnAlert(_mailboxes[mailbox], _target, level).Transitions];

    [Test]
    public void Two_mailboxes_alternating_orange_and_yellow_never_lower_the_slot()
    {
        // Mailbox 0 saw the failed checks; mailbox 1 only the device reports. Each refreshes every 30 s, and mailbox
        // 0's monitor restarts now and then so it re-reports YELLOW before ORANGE again.
        var transitions = new List<FleetTransition>();
        transitions.AddRange(Alert(1, HealthLevel.Yellow));
        transitions.AddRange(Alert(0, HealthLevel.Orange));
        for (var round = 0; round < 40; round++)
        {
            _time.Advance(TimeSpan.FromSeconds(30));
            transitions.AddRange(Alert(round % 2, round % 3 == 0 ? HealthLevel.Yellow : HealthLevel.Orange));
            transitions.AddRange(Alert(1 - round % 2, HealthLevel.Yellow));
            transitions.AddRange(_hq.Tick().Transitions);
        }
        Assert.That(transitions.Select(t => t.To), Is.EqualTo(new[] { HealthLevel.Yellow, HealthLevel.Orange }));
        Assert.That(Level, Is.EqualTo(HealthLevel.Orange));
    }

    [Test]
    public void A_lower_alert_from_the_same_mailbox_keeps_the_higher_level_until_its_ttl()
    {
        Alert(0, HealthLevel.Orange);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.That(Alert(0, HealthLevel.Yellow), Is.Empty);
        // Refreshed YELLOW keeps the reporter alive, but ORANGE was last asserted at t0.
        _time.Advance(Ttl - TimeSpan.FromMinutes(1) - Tick);
        Assert.That(Alert(0, HealthLevel.Yellow), Is.Empty);
        Assert.That(_hq.Tick().Transitions, Is.Empty);
        Assert.That(Level, Is.EqualTo(HealthLevel.Orange));
        _time.Advance(Tick);
        var drop = _hq.Tick().Transitions.Single();
        Assert.That((drop.From, drop.To), Is.EqualTo((HealthLevel.Orange, HealthLevel.Yellow)));
    }

    [Test]
    public void Red_needs_two_fresh_red_mailboxes_and_falls_when_one_expires_not_a_tick_early()
    {
        Alert(0, HealthLevel.Red);
        Assert.That(Level, Is.EqualTo(HealthLevel.Orange), "one RED is not confirmation");
        _time.Advance(TimeSpan.FromMinutes(2));
        var red = Alert(1, HealthLevel.Red).Single();
        Assert.That((red.To, red.RedConfirmations), Is.EqualTo((HealthLevel.Red, 2)));
        // Mailbox 1 keeps refreshing RED; mailbox 0 goes silent. Its RED expires exactly at t0 + TTL.
        _time.Advance(Ttl - TimeSpan.FromMinutes(2) - Tick);
        Alert(1, HealthLevel.Red);
        Assert.That(_hq.Tick().Transitions, Is.Empty);
        Assert.That(Level, Is.EqualTo(HealthLevel.Red));
        _time.Advance(Tick);
        var fall = _hq.Tick().Transitions.Single();
        Assert.That((fall.From, fall.To, fall.RedConfirmations), Is.EqualTo((HealthLevel.Red, HealthLevel.Orange, 1)));
        Assert.That(_hq.Get("mbx-a")!.Reporters, Is.EqualTo(1));
    }

    [Test]
    public void Red_then_a_reporter_dropping_to_orange_stays_red_while_its_red_is_fresh()
    {
        Alert(0, HealthLevel.Red);
        Alert(1, HealthLevel.Red);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.That(Alert(0, HealthLevel.Orange), Is.Empty);
        Assert.That(Alert(0, HealthLevel.Yellow), Is.Empty);
        Assert.That(Level, Is.EqualTo(HealthLevel.Red));
    }

    [Test]
    public void Recovery_needs_every_reporter_to_say_green_or_expire()
    {
        Alert(0, HealthLevel.Orange);
        Alert(1, HealthLevel.Yellow);
        Assert.That(Alert(0, HealthLevel.Green).Single().To, Is.EqualTo(HealthLevel.Yellow));
        _time.Advance(Ttl - Tick);
        Assert.That(_hq.Tick().Transitions, Is.Empty);
        _time.Advance(Tick);
        Assert.That(_hq.Tick().Transitions.Single().To, Is.EqualTo(HealthLevel.Green));
        Assert.That(_hq.Get("mbx-a")!.Reporters, Is.Zero);
    }

    [Test]
    public void A_reporter_that_leaves_the_fleet_stops_counting()
    {
        Alert(0, HealthLevel.Red);
        Alert(1, HealthLevel.Red);
        Assert.That(Level, Is.EqualTo(HealthLevel.Red));
        // Mailbox 1's slot is given to another node: its alerts no longer count.
        _hq.SetSlot("rep-1", Ed25519Identity.Generate().PeerId, "p1");
        var fall = _hq.Tick().Transitions.Single(t => t.Slot == "mbx-a");
        Assert.That(fall.To, Is.EqualTo(HealthLevel.Orange));
        Assert.That(_hq.Get("mbx-a")!.Reporters, Is.EqualTo(1));
    }
}
