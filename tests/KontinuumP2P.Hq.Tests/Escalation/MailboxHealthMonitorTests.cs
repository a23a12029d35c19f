using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Health;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Hq.Tests.Escalation;

public class MailboxHealthMonitorTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);
    private FakeTimeProvider _time = null!;
    private MailboxHealthMonitor _monitor = null!;
    private HealthTarget _target;

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
        _monitor = new MailboxHealthMonitor(new HealthMonitorOptions(), _time);
        _target = new HealthTarget("mbx-eu-042", Ed25519Identity.Generate().PeerId);
    }

    private static byte[] Device(int i) => BitConverter.GetBytes(i).Concat(new byte[12]).ToArray();

    private void GoYellow()
    {
        for (var i = 0; i < 11; i++) _monitor.RecordReport(_target, Device(i));
        Assert.That(_monitor.Get(_target).Level, Is.EqualTo(HealthLevel.Yellow));
    }

    [Test]
    public void Yellow_at_the_eleventh_unique_device_not_the_tenth()
    {
        for (var i = 0; i < 10; i++) Assert.That(_monitor.RecordReport(_target, Device(i)), Is.Null);
        // The same ten devices again are still ten.
        for (var i = 0; i < 10; i++) Assert.That(_monitor.RecordReport(_target, Device(i)), Is.Null);
        Assert.That(_monitor.Get(_target).Level, Is.EqualTo(HealthLevel.Green));
        var t = _monitor.RecordReport(_target, Device(10));
        Assert.That(t, Is.Not.Null);
        Assert.That(t!.To, Is.EqualTo(HealthLevel.Yellow));
        Assert.That(t.UniqueReporters, Is.EqualTo(11));
    }

    [Test]
    public void Reports_older_than_the_window_do_not_count()
    {
        _monitor.RecordReport(_target, Device(0));
        _time.Advance(TimeSpan.FromSeconds(30));
        for (var i = 1; i < 10; i++) _monitor.RecordReport(_target, Device(i));
        // Device 0 reported exactly 2 min before the 11th report: outside the window, so only 10 count.
        _time.Advance(TimeSpan.FromMinutes(2) - TimeSpan.FromSeconds(30));
        Assert.That(_monitor.RecordReport(_target, Device(10)), Is.Null);
        Assert.That(_monitor.Get(_target).UniqueReporters, Is.EqualTo(10));
    }

    [Test]
    public void Reports_one_tick_inside_the_window_count()
    {
        _monitor.RecordReport(_target, Device(0));
        for (var i = 1; i < 10; i++) _monitor.RecordReport(_target, Device(i));
        _time.Advance(TimeSpan.FromMinutes(2) - Tick);
        Assert.That(_monitor.RecordReport(_target, Device(10))?.To, Is.EqualTo(HealthLevel.Yellow));
    }

    [Test]
    public void Yellow_asks_for_a_check_at_once_then_every_interval()
    {
        Assert.That(_monitor.TakeDueChecks(), Is.Empty);
        GoYellow();
        Assert.That(_monitor.TakeDueChecks(), Is.EqualTo(new[] { _target }));
        Assert.That(_monitor.TakeDueChecks(), Is.Empty, "a due check is handed out once");
        _time.Advance(TimeSpan.FromSeconds(30) - Tick);
        Assert.That(_monitor.TakeDueChecks(), Is.Empty);
        _time.Advance(Tick);
        Assert.That(_monitor.TakeDueChecks(), Is.EqualTo(new[] { _target }));
    }

    [Test]
    public void Orange_after_three_consecutive_failures_not_two()
    {
        GoYellow();
        Assert.That(_monitor.RecordCheck(_target, false), Is.Null);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.That(_monitor.RecordCheck(_target, false), Is.Null);
        Assert.That(_monitor.Get(_target).Level, Is.EqualTo(HealthLevel.Yellow));
        _time.Advance(TimeSpan.FromSeconds(30));
        var t = _monitor.RecordCheck(_target, false);
        Assert.That(t?.To, Is.EqualTo(HealthLevel.Orange));
        Assert.That(t!.ConsecutiveFailures, Is.EqualTo(3));
    }

    [Test]
    public void A_success_between_failures_restarts_the_count()
    {
        GoYellow();
        _monitor.RecordCheck(_target, false);
        _monitor.RecordCheck(_target, false);
        Assert.That(_monitor.RecordCheck(_target, true)?.To, Is.EqualTo(HealthLevel.Green));
        GoYellow();
        _monitor.RecordCheck(_target, false);
        Assert.That(_monitor.RecordCheck(_target, false), Is.Null);
        Assert.That(_monitor.Get(_target).ConsecutiveFailures, Is.EqualTo(2));
    }

    [Test]
    public void Red_after_five_minutes_of_continuous_failure_not_a_tick_earlier()
    {
        GoYellow();
        _monitor.RecordCheck(_target, false); // failing since now
        for (var i = 1; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(30));
            _monitor.RecordCheck(_target, false);
        }
        Assert.That(_monitor.Get(_target).Level, Is.EqualTo(HealthLevel.Orange)); // 4.5 min
        _time.Advance(TimeSpan.FromSeconds(30) - Tick);
        Assert.That(_monitor.RecordCheck(_target, false), Is.Null);
        _time.Advance(Tick);
        var t = _monitor.RecordCheck(_target, false);
        Assert.That(t?.To, Is.EqualTo(HealthLevel.Red));
        Assert.That(t!.At - t.FailingSince!.Value, Is.EqualTo(TimeSpan.FromMinutes(5)));
    }

    [Test]
    public void Recovery_clears_red_to_green_and_forgets_the_target()
    {
        GoYellow();
        _monitor.RecordCheck(_target, false);
        _time.Advance(TimeSpan.FromMinutes(5));
        _monitor.RecordCheck(_target, false);
        _monitor.RecordCheck(_target, false);
        Assert.That(_monitor.Get(_target).Level, Is.EqualTo(HealthLevel.Red));
        var t = _monitor.RecordCheck(_target, true);
        Assert.That(t?.From, Is.EqualTo(HealthLevel.Red));
        Assert.That(t!.To, Is.EqualTo(HealthLevel.Green));
        Assert.That(_monitor.TrackedTargets, Is.Zero);
        Assert.That(_monitor.TakeDueChecks(), Is.Empty);
    }

    [Test]
    public void A_report_flood_against_a_healthy_mailbox_goes_no_further_than_one_yellow_check()
    {
        // 10,000 reports from 500 (registered but lying) devices: the target answers every check.
        var transitions = new List<HealthTransition>();
        for (var round = 0; round < 20; round++)
        {
            for (var i = 0; i < 500; i++)
            {
                if (_monitor.RecordReport(_target, Device(i)) is { } t) transitions.Add(t);
            }
            foreach (var due in _monitor.TakeDueChecks())
            {
                if (_monitor.RecordCheck(due, succeeded: true) is { } t) transitions.Add(t);
            }
            _time.Advance(TimeSpan.FromSeconds(10));
        }
        Assert.That(transitions.Max(t => t.To), Is.LessThanOrEqualTo(HealthLevel.Yellow));
        Assert.That(transitions.Where(t => t.To > HealthLevel.Yellow), Is.Empty);
    }

    [Test]
    public void Devices_per_target_are_capped_and_the_oldest_evicted()
    {
        var options = new HealthMonitorOptions { MaxDevicesPerTarget = 20 };
        var monitor = new MailboxHealthMonitor(options, _time);
        for (var i = 0; i < 100_000; i++)
        {
            monitor.RecordReport(_target, Device(i));
            if (i % 1000 == 0) _time.Advance(TimeSpan.FromMilliseconds(1));
        }
        Assert.That(monitor.Get(_target).UniqueReporters, Is.EqualTo(20));
    }

    [Test]
    public void Targets_are_capped_and_healthy_quiet_ones_evicted_before_watched_ones()
    {
        var monitor = new MailboxHealthMonitor(new HealthMonitorOptions { MaxTargets = 8 }, _time);
        var watched = new HealthTarget("mbx-watched", Ed25519Identity.Generate().PeerId);
        for (var i = 0; i < 11; i++) monitor.RecordReport(watched, Device(i));
        for (var i = 0; i < 10_000; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(1));
            monitor.RecordReport(new HealthTarget($"mbx-{i}", watched.NodeId), Device(0));
        }
        Assert.That(monitor.TrackedTargets, Is.EqualTo(8));
        Assert.That(monitor.Get(watched).Level, Is.EqualTo(HealthLevel.Yellow));
    }

    [Test]
    public void Alerts_are_refreshed_while_not_green()
    {
        GoYellow();
        Assert.That(_monitor.TakeAlertRefreshes(), Is.Empty);
        _time.Advance(TimeSpan.FromMinutes(1) - Tick);
        Assert.That(_monitor.TakeAlertRefreshes(), Is.Empty);
        _time.Advance(Tick);
        Assert.That(_monitor.TakeAlertRefreshes().Single().Level, Is.EqualTo(HealthLevel.Yellow));
        Assert.That(_monitor.TakeAlertRefreshes(), Is.Empty);
    }
}
