using System.Diagnostics;
using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Tests.Pushing;

/// <summary>The pusher's loop under a steady push load: memory stays flat, an idle loop costs little CPU, and it stops when told.</summary>
[NonParallelizable]
public sealed class ArchivePusherSoakTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-pusher-soak-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    [Category("Slow")]
    public async Task Memory_stays_flat_idle_costs_little_and_the_loop_stops()
    {
        var random = new Random(8);
        var boxes = ReplicaStore.MakeBoxes(random, 4);
        await using var store = await ReplicaStore.OpenAsync(Path.Combine(_dir, "store.db"));
        using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
        await using var sink = new DirectorySink(Path.Combine(_dir, "sink"));
        using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store), [sink], state,
            new ArchivePusherOptions { TargetPackBytes = 16 * 1024, MaxPackAge = TimeSpan.FromMilliseconds(50), PollInterval = TimeSpan.FromMilliseconds(20) },
            TimeProvider.System);
        var rounds = 0;
        pusher.RoundCompleted += _ => Interlocked.Increment(ref rounds);
        await pusher.StartAsync(CancellationToken.None);

        long? baseline = null;
        for (var wave = 0; wave < 40; wave++)
        {
            await ReplicaStore.PushAsync(store, boxes, random, 5, 100, 2000);
            pusher.Nudge();
            if (wave == 10)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                baseline = GC.GetTotalMemory(forceFullCollection: true);
            }
        }
        // Let it catch up (bounded), then measure an idle stretch.
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(60) && !boxes.All(b => state.Get(b.MailboxId)?.ArchivedUpTo == 200))
            await Task.Delay(50);
        foreach (var box in boxes) Assert.That(state.Get(box.MailboxId)!.ArchivedUpTo, Is.EqualTo(200UL));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var end = GC.GetTotalMemory(forceFullCollection: true);
        TestContext.Out.WriteLine($"managed heap after wave 10: {baseline / 1024} KiB, after 40 waves: {end / 1024} KiB; {rounds} rounds");
        Assert.That(end - baseline!.Value, Is.LessThan(16L << 20), "managed heap growth over 30 waves of pushes");

        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var roundsBefore = Volatile.Read(ref rounds);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var idleRounds = Volatile.Read(ref rounds) - roundsBefore;
        TestContext.Out.WriteLine($"idle 2 s: {idleRounds} rounds, {cpu.TotalMilliseconds:F0} ms CPU");
        Assert.That(idleRounds, Is.InRange(10, 110), "about one round per 20 ms poll interval, no busy loop");
        Assert.That(cpu, Is.LessThan(TimeSpan.FromSeconds(1.5)), "idle polling of 4 mailboxes every 20 ms");

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await pusher.StopAsync(stop.Token);
        Assert.That(pusher.ExecuteTask!.IsCompleted, Is.True);
        var afterStop = Volatile.Read(ref rounds);
        await Task.Delay(200);
        Assert.That(Volatile.Read(ref rounds), Is.EqualTo(afterStop), "no round after stop");
    }
}
