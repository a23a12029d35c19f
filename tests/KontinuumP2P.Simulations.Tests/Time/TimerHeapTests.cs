using KontinuumP2P.Simulations.Time;

namespace KontinuumP2P.Simulations.Tests.Time;

/// <summary>The provider's timer heap: armings replaced and removed at once, fired in the order one queue gave.</summary>
public sealed class TimerHeapTests
{
    [Test]
    public void Stopped_and_disposed_timers_leave_the_queue_at_once()
    {
        var time = new VirtualTimeProvider();
        var timers = Enumerable.Range(0, 100)
            .Select(i => time.CreateTimer(_ => { }, null, TimeSpan.FromSeconds(10 + i), Timeout.InfiniteTimeSpan))
            .ToList();
        Assert.That(time.PendingEvents, Is.EqualTo(100));
        for (var i = 0; i < 50; i++) timers[i].Dispose();
        for (var i = 50; i < 75; i++) timers[i].Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        // Re-arming moves the one entry a timer has; it does not add another.
        for (var i = 75; i < 100; i++) timers[i].Change(TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        Assert.That(time.PendingEvents, Is.EqualTo(25));
        Assert.That(time.NextDue(), Is.EqualTo(TimeSpan.FromSeconds(1)));
        foreach (var timer in timers) timer.Dispose();
        Assert.That(time.PendingEvents, Is.Zero);
        Assert.That(time.NextDue(), Is.Null);
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    public void Timers_fire_in_the_order_of_their_latest_arming(int seed)
    {
        // Against a model: each arming takes the next sequence number; the next to fire is the armed timer with the
        // smallest (due, sequence). Many equal due times, so the tie-break is exercised as much as the due order.
        var random = new Random(seed);
        var time = new VirtualTimeProvider();
        var fired = new List<int>();
        var expected = new List<int>();
        var model = new Dictionary<int, (long Due, long Sequence)>();
        long sequence = 0;
        var timers = new List<ITimer>();
        for (var id = 0; id < 200; id++)
        {
            var index = id;
            timers.Add(time.CreateTimer(_ => fired.Add(index), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));
        }
        for (var step = 0; step < 5_000; step++)
        {
            var id = random.Next(timers.Count);
            switch (random.Next(6))
            {
                case 0:
                    timers[id].Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    model.Remove(id);
                    break;
                case 1:
                    // Run everything due within the next few seconds, and the model alike.
                    var limit = time.Elapsed + TimeSpan.FromSeconds(random.Next(4));
                    while (time.RunNext(limit))
                    {
                    }
                    while (model.Count > 0)
                    {
                        var next = model.MinBy(pair => (pair.Value.Due, pair.Value.Sequence));
                        if (next.Value.Due > limit.Ticks) break;
                        expected.Add(next.Key);
                        model.Remove(next.Key);
                    }
                    break;
                default:
                    var due = TimeSpan.FromSeconds(random.Next(20));
                    timers[id].Change(due, Timeout.InfiniteTimeSpan);
                    model[id] = ((time.Elapsed + due).Ticks, ++sequence);
                    break;
            }
            Assert.That(time.PendingEvents, Is.EqualTo(model.Count), $"step {step}");
        }
        while (time.RunNext(TimeSpan.FromDays(1)))
        {
        }
        expected.AddRange(model.OrderBy(pair => (pair.Value.Due, pair.Value.Sequence)).Select(pair => pair.Key));
        Assert.That(fired, Is.EqualTo(expected));
        Assert.That(fired, Has.Count.GreaterThan(1_000));
        foreach (var timer in timers) timer.Dispose();
    }

    [Test]
    public void Timers_and_scheduled_events_interleave_by_their_keys()
    {
        var time = new VirtualTimeProvider();
        var order = new List<string>();
        using var timer = time.CreateTimer(_ => order.Add("timer 2 s"), null, TimeSpan.FromSeconds(2), Timeout.InfiniteTimeSpan);
        time.Schedule(TimeSpan.FromSeconds(1), EventLane.Network, 1, 2, 1, () => order.Add("net 1 s"));
        time.Schedule(TimeSpan.FromSeconds(2), EventLane.Network, 1, 2, 2, () => order.Add("net 2 s"));
        time.Schedule(TimeSpan.FromSeconds(3), () => order.Add("scenario 3 s"));
        using var early = time.CreateTimer(_ => order.Add("timer 1 s"), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        while (time.RunNext(TimeSpan.FromHours(1)))
        {
        }
        // At one instant the network lane runs before timers.
        Assert.That(order, Is.EqualTo(new[] { "net 1 s", "timer 1 s", "net 2 s", "timer 2 s", "scenario 3 s" }));
    }
}
