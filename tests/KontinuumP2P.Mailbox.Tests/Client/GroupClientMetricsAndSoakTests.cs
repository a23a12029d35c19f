using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Mailbox.Tests.Client;

/// <summary>The group client's metrics through an <see cref="IMeterFactory"/>, and a soak of its watch loop.</summary>
[NonParallelizable]
public sealed class GroupClientMetricsAndSoakTests
{
    private readonly List<string> _dirs = [];
    private readonly List<IDisposable> _disposables = [];

    [TearDown]
    public void TearDown()
    {
        foreach (var item in _disposables) item.Dispose();
        _disposables.Clear();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var dir in _dirs.Where(Directory.Exists)) Directory.Delete(dir, recursive: true);
        _dirs.Clear();
    }

    private (GroupStore A, GroupStore B) NewGroup(MailboxFleet fleet, int requiredAcks)
    {
        using var secret = GroupSecret.Generate();
        var stores = new GroupStore[2];
        for (var i = 0; i < 2; i++)
        {
            var dir = Path.Combine(Path.GetTempPath(), "kp-group-" + Guid.NewGuid().ToString("N"));
            _dirs.Add(dir);
            stores[i] = GroupStore.Create(dir, secret, "test", fleet.Slots, requiredAcks);
            _disposables.Add(stores[i]);
        }
        return (stores[0], stores[1]);
    }

    [Test]
    public async Task Pushes_acks_applied_blobs_outbox_depth_and_pull_lag_are_reported_through_the_meter_factory()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var ct = timeout.Token;
        await using var fleet = await MailboxFleet.StartAsync(3);
        var (storeA, storeB) = NewGroup(fleet, requiredAcks: 3);
        using var factory = new TestMeterFactory();
        using var recorder = new Recorder(factory);
        await using var a = await fleet.DeviceAsync(storeA, MailboxFleet.FastOptions with { MeterFactory = factory });
        await using var b = await fleet.DeviceAsync(storeB, MailboxFleet.FastOptions with { MeterFactory = factory, PullLimit = 5 });

        for (var i = 0; i < 12; i++) await a.PushAsync(Encoding.UTF8.GetBytes($"metric {i}"), ct);
        await fleet.Servers[2].StopAsync();
        for (var i = 0; i < 3; i++) await a.PushAsync(Encoding.UTF8.GetBytes($"queued {i}"), ct);
        recorder.Collect();
        Assert.Multiple(() =>
        {
            Assert.That(recorder.Sum("kontinuum.mailbox.client.pushes"), Is.EqualTo(15));
            Assert.That(recorder.Sum("kontinuum.mailbox.client.acks"), Is.EqualTo(12 * 3 + 3 * 2));
            Assert.That(recorder.Sum("kontinuum.mailbox.client.push_failures"), Is.EqualTo(3));
            Assert.That(recorder.Last("kontinuum.mailbox.client.outbox"), Is.EqualTo(3), "the stopped mailbox is owed 3 blobs");
        });

        // B stops applying after the first page of 5: the mailboxes it read hold 10 more than its cursor there.
        var applied = 0;
        Assert.ThrowsAsync<InvalidOperationException>(() => b.PullAsync((_, _) =>
            Interlocked.Increment(ref applied) > 5 ? throw new InvalidOperationException("stop") : ValueTask.CompletedTask, ack: true, ct));
        recorder.Collect();
        Assert.That(recorder.Last("kontinuum.mailbox.client.pull_lag"), Is.GreaterThanOrEqualTo(10));
        await b.PullAsync((_, _) => ValueTask.CompletedTask, ack: true, ct);
        recorder.Collect();
        Assert.Multiple(() =>
        {
            Assert.That(recorder.Sum("kontinuum.mailbox.client.applied"), Is.EqualTo(15));
            Assert.That(recorder.Last("kontinuum.mailbox.client.pull_lag"), Is.Zero, "caught up on every reachable mailbox");
        });
    }

    [Test]
    public async Task Outbox_backoff_runs_on_the_clients_clock_not_the_system_clock()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var ct = timeout.Token;
        await using var fleet = await MailboxFleet.StartAsync(1);
        var (storeA, _) = NewGroup(fleet, requiredAcks: 1);
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var a = await fleet.DeviceAsync(storeA, MailboxFleet.FastOptions with { TimeProvider = time, Jitter = () => 0.5 });
        await fleet.Servers[0].StopAsync();
        var outcome = await a.PushAsync("while down"u8.ToArray(), ct);
        Assert.That(outcome.Durable, Is.False);
        var due = storeA.NextDue();
        Assert.That(due, Is.GreaterThan(time.GetUtcNow()), "rescheduled on the fake clock");
        await fleet.Servers[0].StartAsync();
        // However long the real wait, nothing is due until the client's clock reaches the backoff.
        var early = await a.FlushAsync(all: false, ct);
        Assert.That((early.Delivered, early.Remaining), Is.EqualTo((0, 1)));
        time.Advance(due!.Value - time.GetUtcNow() + TimeSpan.FromMilliseconds(1));
        var flushed = await a.FlushAsync(all: false, ct);
        Assert.That((flushed.Delivered, flushed.Remaining), Is.EqualTo((1, 0)));
    }

    [Test]
    [Category("Slow")]
    public async Task The_watch_loop_keeps_memory_and_cpu_bounded_and_stops_when_told()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var ct = timeout.Token;
        await using var fleet = await MailboxFleet.StartAsync(3, configure: o => o with { PushesPerMinute = 1_000_000, RequestsPerSecond = 1_000_000 });
        var (storeA, storeB) = NewGroup(fleet, requiredAcks: 1);
        var options = MailboxFleet.FastOptions with { WatchPollInterval = TimeSpan.FromMilliseconds(200) };
        await using var a = await fleet.DeviceAsync(storeA, options);
        await using var b = await fleet.DeviceAsync(storeB, options);
        var received = new ConcurrentDictionary<BlobId, byte>();
        var rounds = 0;
        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watching = b.WatchAsync((blob, _) =>
        {
            received.TryAdd(blob.Id, 0);
            return ValueTask.CompletedTask;
        }, ack: true, _ => Interlocked.Increment(ref rounds), stopWatching.Token);

        // Busy phase: 30 waves of 50 pushes, each wave seen by the watcher before the next (bounded in count and time).
        const int waves = 30, perWave = 50;
        long heapAfterWarmUp = 0;
        for (var wave = 0; wave < waves; wave++)
        {
            var ids = await Task.WhenAll(Enumerable.Range(0, perWave).Select(i => a.PushAsync(Encoding.UTF8.GetBytes($"wave {wave} blob {i}"), ct)));
            var deadline = Stopwatch.StartNew();
            while (!ids.All(o => received.ContainsKey(o.Id)))
            {
                Assert.That(deadline.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), $"wave {wave} not seen by the watcher");
                Assert.That(watching.IsCompleted, Is.False, () => $"the watch loop ended: {watching.Exception}");
                await Task.Delay(20, ct);
            }
            if (wave == 4) heapAfterWarmUp = Heap();
        }
        var heapAfterBusy = Heap();

        // Idle phase: nothing to do but poll every 200 ms; the whole process must stay nearly idle.
        var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var roundsBefore = Volatile.Read(ref rounds);
        var idle = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(5), ct);
        process.Refresh();
        var idleCpu = process.TotalProcessorTime - cpuBefore;
        var idleRounds = Volatile.Read(ref rounds) - roundsBefore;
        var heapAfterIdle = Heap();

        await stopWatching.CancelAsync();
        var stopped = Stopwatch.StartNew();
        Assert.That(async () => await watching.WaitAsync(TimeSpan.FromSeconds(15), ct), Throws.InstanceOf<OperationCanceledException>());
        TestContext.Out.WriteLine($"{waves * perWave} blobs watched; heap {heapAfterWarmUp >> 20} MiB after warm-up, {heapAfterBusy >> 20} MiB after busy, " +
            $"{heapAfterIdle >> 20} MiB after idle; idle {idle.Elapsed.TotalSeconds:F1} s used {idleCpu.TotalMilliseconds:F0} ms CPU in {idleRounds} rounds; " +
            $"stopped in {stopped.ElapsedMilliseconds} ms");
        Assert.Multiple(() =>
        {
            Assert.That(received, Has.Count.EqualTo(waves * perWave));
            Assert.That(heapAfterBusy - heapAfterWarmUp, Is.LessThan(32L << 20), "managed heap grew over the busy phase");
            Assert.That(heapAfterIdle - heapAfterWarmUp, Is.LessThan(32L << 20), "managed heap grew while idle");
            // ~25 polls in 5 s; a loop spinning without waiting would run thousands of rounds and burn a core.
            Assert.That(idleRounds, Is.InRange(1, 100), "watch rounds while idle");
            Assert.That(idleCpu, Is.LessThan(TimeSpan.FromSeconds(2.5)), "CPU used by the whole test process while idle");
            Assert.That(b.BackgroundPushes, Is.Zero);
        });
    }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            lock (_meters) _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            lock (_meters)
            {
                foreach (var meter in _meters) meter.Dispose();
            }
        }
    }

    /// <summary>Sums counters and keeps the last reading of each gauge created by one factory.</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, long> _sums = new();
        private readonly ConcurrentDictionary<Instrument, long> _last = new();

        public Recorder(IMeterFactory factory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == factory) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            {
                if (instrument is Counter<long>) _sums.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value);
                else _last[instrument] = value;
            });
            _listener.Start();
        }

        public void Collect() => _listener.RecordObservableInstruments();

        public long Sum(string name) => _sums.GetValueOrDefault(name);

        /// <summary>The last reading of every gauge of that name (one per client), added up.</summary>
        public long Last(string name) => _last.Where(g => g.Key.Name == name).Select(g => g.Value).DefaultIfEmpty(-1).Sum();

        public void Dispose() => _listener.Dispose();
    }
}
