using KontinuumP2P.Simulations.Time;

namespace KontinuumP2P.Simulations.Tests.Time;

public sealed class VirtualTimeProviderTests
{
    [Test]
    public void Timers_fire_in_due_order_and_equal_due_times_in_creation_order()
    {
        var time = new VirtualTimeProvider();
        var fired = new List<string>();
        using var late = time.CreateTimer(_ => fired.Add("late"), null, TimeSpan.FromSeconds(5), Timeout.InfiniteTimeSpan);
        using var first = time.CreateTimer(_ => fired.Add("first"), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        using var second = time.CreateTimer(_ => fired.Add("second"), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        while (time.RunNext(TimeSpan.FromHours(1)))
        {
        }
        Assert.That(fired, Is.EqualTo(new[] { "first", "second", "late" }));
        Assert.That(time.Elapsed, Is.EqualTo(TimeSpan.FromSeconds(5)));
        Assert.That(time.GetUtcNow(), Is.EqualTo(VirtualTimeProvider.DefaultEpoch + TimeSpan.FromSeconds(5)));
    }

    [Test]
    public void Changed_and_disposed_timers_do_not_fire_at_their_old_time()
    {
        var time = new VirtualTimeProvider();
        var fired = new List<TimeSpan>();
        var moved = time.CreateTimer(_ => fired.Add(time.Elapsed), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        var disposed = time.CreateTimer(_ => fired.Add(TimeSpan.MinValue), null, TimeSpan.FromSeconds(2), Timeout.InfiniteTimeSpan);
        moved.Change(TimeSpan.FromSeconds(3), Timeout.InfiniteTimeSpan);
        disposed.Dispose();
        while (time.RunNext(TimeSpan.FromHours(1)))
        {
        }
        Assert.That(fired, Is.EqualTo(new[] { TimeSpan.FromSeconds(3) }));
        moved.Dispose();
    }

    [Test]
    public void A_periodic_timer_fires_every_period_until_the_limit()
    {
        var time = new VirtualTimeProvider();
        var count = 0;
        using var timer = time.CreateTimer(_ => count++, null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        while (time.RunNext(TimeSpan.FromMinutes(10)))
        {
        }
        Assert.That(count, Is.EqualTo(10));
        Assert.That(time.NextDue(), Is.EqualTo(TimeSpan.FromMinutes(11)));
    }

    [Test]
    public void Scheduled_events_at_one_instant_run_by_lane_then_keys()
    {
        var time = new VirtualTimeProvider();
        var order = new List<string>();
        time.Schedule(TimeSpan.FromSeconds(1), EventLane.Network, 2, 1, 1, () => order.Add("net 2->1"));
        time.Schedule(TimeSpan.FromSeconds(1), EventLane.Network, 1, 2, 7, () => order.Add("net 1->2 #7"));
        time.Schedule(TimeSpan.FromSeconds(1), EventLane.Network, 1, 2, 3, () => order.Add("net 1->2 #3"));
        time.Schedule(TimeSpan.FromSeconds(1), () => order.Add("scenario"));
        while (time.RunNext(TimeSpan.FromHours(1)))
        {
        }
        Assert.That(order, Is.EqualTo(new[] { "scenario", "net 1->2 #3", "net 1->2 #7", "net 2->1" }));
    }

    [Test]
    public async Task The_driver_runs_async_code_on_virtual_time_only()
    {
        var time = new VirtualTimeProvider();
        var driver = new SimulationDriver(time);
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var seen = new List<TimeSpan>();
        await driver.RunAsync(async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                await Task.Delay(TimeSpan.FromHours(1), time).ConfigureAwait(false);
                seen.Add(time.Elapsed);
            }
        }, TimeSpan.FromDays(1), 1000, CancellationToken.None);
        Assert.That(seen, Is.EqualTo(new[] { TimeSpan.FromHours(1), TimeSpan.FromHours(2), TimeSpan.FromHours(3) }));
        Assert.That(wall.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public void The_driver_reports_a_scenario_that_can_never_finish()
    {
        var time = new VirtualTimeProvider();
        var driver = new SimulationDriver(time);
        var never = new TaskCompletionSource();
        var run = driver.RunAsync(() => never.Task, TimeSpan.FromDays(1), 1000, CancellationToken.None);
        Assert.That(async () => await run, Throws.InstanceOf<SimulationStalledException>().With.Message.Contains("no event is left"));
    }
}
