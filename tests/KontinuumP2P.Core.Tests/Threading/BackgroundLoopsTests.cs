using System.Diagnostics.Metrics;
using KontinuumP2P.Core.Threading;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Core.Tests.Threading;

[CancelAfter(30_000)]
public class BackgroundLoopsTests
{
    [Test]
    public async Task A_periodic_round_that_throws_is_reported_and_the_next_round_still_runs(CancellationToken cancellationToken)
    {
        var time = new FakeTimeProvider();
        using var meters = new TestMeterFactory();
        var failuresCounted = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Name == "kontinuum.background.failures") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref failuresCounted, value));
        listener.Start();
        await using var loops = new BackgroundLoops("node", time, meterFactory: meters);
        var failures = new List<LoopFailedEventArgs>();
        loops.LoopFailed += (_, e) => failures.Add(e);
        var rounds = 0;
        var roundDone = Channel();
        loops.StartPeriodic("republish", TimeSpan.FromMinutes(10), _ =>
        {
            var round = ++rounds;
            roundDone.Writer.TryWrite(round);
            // The first round fails as a store error or a refused record would.
            return round == 1 ? Task.FromException(new InvalidOperationException("record refused")) : Task.CompletedTask;
        });

        time.Advance(TimeSpan.FromMinutes(10));
        Assert.That(await roundDone.Reader.ReadAsync(cancellationToken), Is.EqualTo(1));
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.That(await roundDone.Reader.ReadAsync(cancellationToken), Is.EqualTo(2), "the round after a failure runs");
        Assert.Multiple(() =>
        {
            Assert.That(failures.Select(f => (f.Loop, f.Exception.Message)), Is.EqualTo(new[] { ("republish", "record refused") }));
            Assert.That(Interlocked.Read(ref failuresCounted), Is.EqualTo(1), "the failure is counted");
            Assert.That(loops.Running, Is.EqualTo(new[] { "republish" }));
        });
    }

    [Test]
    public async Task A_restart_loop_runs_again_after_the_delay_and_a_stop_loop_ends(CancellationToken cancellationToken)
    {
        var time = new FakeTimeProvider();
        await using var loops = new BackgroundLoops("dht", time) { RestartDelay = TimeSpan.FromSeconds(5) };
        var runs = Channel();
        var count = 0;
        loops.Start("checks", async token =>
        {
            runs.Writer.TryWrite(++count);
            if (count == 1) throw new InvalidDataException("bug");
            await Task.Delay(Timeout.InfiniteTimeSpan, time, token);
        });
        loops.Start("once", _ => throw new InvalidDataException("gone"), LoopFailurePolicy.Stop);
        Assert.That(await runs.Reader.ReadAsync(cancellationToken), Is.EqualTo(1));
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.That(runs.Reader.TryRead(out _), Is.False, "not before the restart delay");
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(await runs.Reader.ReadAsync(cancellationToken), Is.EqualTo(2));
        Assert.That(loops.Running, Is.EqualTo(new[] { "checks" }), "the Stop loop ended, the Restart loop runs");
    }

    [Test]
    public async Task Stop_cancels_every_loop_and_waits_until_each_has_finished(CancellationToken cancellationToken)
    {
        var time = new FakeTimeProvider();
        var loops = new BackgroundLoops("node", time);
        var finished = new bool[3];
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new CountdownEvent(3);
        for (var i = 0; i < 3; i++)
        {
            var index = i;
            loops.Start($"loop-{i}", async token =>
            {
                started.Signal();
                try
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, time, token);
                }
                finally
                {
                    // Clean-up that takes time after the cancellation: stop must wait for it.
                    await release.Task;
                    finished[index] = true;
                }
            });
        }
        Assert.That(started.Wait(TimeSpan.FromSeconds(10), cancellationToken), Is.True);
        var stopping = loops.DisposeAsync().AsTask();
        // Each loop's clean-up is blocked on release, so stop cannot have completed whatever the scheduling.
        Assert.That(stopping.IsCompleted, Is.False, "stop waits for the loops' clean-up");
        release.SetResult();
        await stopping.WaitAsync(cancellationToken);
        Assert.Multiple(() =>
        {
            Assert.That(finished, Is.All.True);
            Assert.That(loops.Running, Is.Empty);
            Assert.That(loops.Start("late", _ => Task.CompletedTask), Is.False, "nothing starts after stop");
        });
    }

    private static System.Threading.Channels.Channel<int> Channel() => System.Threading.Channels.Channel.CreateUnbounded<int>();

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters) meter.Dispose();
        }
    }
}
