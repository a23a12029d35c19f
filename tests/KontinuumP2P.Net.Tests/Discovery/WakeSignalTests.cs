using KontinuumP2P.Net.Discovery;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Discovery;

/// <summary>The sleep of the discovery loops: the mDNS runaway was a "no deadline" wait that returned at once.</summary>
[TestFixture]
public sealed class WakeSignalTests
{
    [Test]
    public async Task AWaitWithoutDeadlineSleepsUntilSignalled()
    {
        var time = new FakeTimeProvider();
        var signal = new WakeSignal();
        var waiting = signal.WaitAsync(null, time, CancellationToken.None);
        time.Advance(TimeSpan.FromDays(1));
        await Task.Yield();
        Assert.That(waiting.IsCompleted, Is.False, "no deadline must mean forever, never zero");
        signal.Set();
        Assert.That(await waiting.WaitAsync(TimeSpan.FromSeconds(10)), Is.True);
    }

    [Test]
    public async Task AWaitWithDeadlineEndsOnTheFakeClock()
    {
        var time = new FakeTimeProvider();
        var signal = new WakeSignal();
        var waiting = signal.WaitAsync(TimeSpan.FromSeconds(5), time, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(4));
        await Task.Yield();
        Assert.That(waiting.IsCompleted, Is.False);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(await waiting.WaitAsync(TimeSpan.FromSeconds(10)), Is.False, "timed out, not signalled");
    }

    [Test]
    public async Task ASignalSetWhileNobodyWaitsIsKeptOnce()
    {
        var time = new FakeTimeProvider();
        var signal = new WakeSignal();
        signal.Set();
        signal.Set();
        Assert.That(await signal.WaitAsync(null, time, CancellationToken.None), Is.True);
        Assert.That(await signal.WaitAsync(TimeSpan.Zero, time, CancellationToken.None), Is.False, "two sets are one wake-up");
    }

    [Test]
    public void CancellationEndsAWaitWithoutDeadline()
    {
        var time = new FakeTimeProvider();
        var signal = new WakeSignal();
        using var cts = new CancellationTokenSource();
        var waiting = signal.WaitAsync(null, time, cts.Token);
        cts.Cancel();
        Assert.That(async () => await waiting, Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task ManyTimedOutWaitsLeaveNoWaiterBehind()
    {
        // Each timed-out wait must drop its channel waiter; the old loop leaked one per iteration.
        var time = new FakeTimeProvider();
        var signal = new WakeSignal();
        GC.Collect();
        var before = GC.GetTotalMemory(true);
        for (var i = 0; i < 20_000; i++)
        {
            var waiting = signal.WaitAsync(TimeSpan.FromSeconds(1), time, CancellationToken.None);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.That(await waiting, Is.False);
        }
        var after = GC.GetTotalMemory(true);
        Assert.That(after - before, Is.LessThan(1_000_000), "20,000 waits kept memory (a leaked waiter is ~200 bytes each)");
        signal.Set();
        Assert.That(await signal.WaitAsync(null, time, CancellationToken.None), Is.True);
    }
}
