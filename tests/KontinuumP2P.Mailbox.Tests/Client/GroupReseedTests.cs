using System.Collections.Concurrent;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Mailbox.Tests.Client;

/// <summary>
/// Re-seeding a replacement mailbox against real servers (TCP 127.0.0.1, SQLite): servers a, b, c hold a group; b stops
/// and its slot moves to server d (as HQ would publish). The device's health round notices the new node, records a job
/// in group.db, and the re-seed copies every blob the survivors hold that d lacks, checked by a reader that pulls d only.
/// </summary>
[NonParallelizable]
public sealed class GroupReseedTests
{
    private readonly List<string> _dirs = [];
    private readonly List<IDisposable> _stores = [];

    [TearDown]
    public void TearDown()
    {
        foreach (var store in _stores) store.Dispose();
        _stores.Clear();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var dir in _dirs.Where(Directory.Exists)) Directory.Delete(dir, recursive: true);
        _dirs.Clear();
    }

    private GroupStore Store(GroupSecret secret, IReadOnlyList<string> slots, string? dir = null)
    {
        dir ??= Path.Combine(Path.GetTempPath(), "kp-reseed-" + Guid.NewGuid().ToString("N"));
        if (!_dirs.Contains(dir)) _dirs.Add(dir);
        var store = Directory.Exists(dir) ? GroupStore.Open(dir) : GroupStore.Create(dir, secret, "test", slots, 1);
        _stores.Add(store);
        return store;
    }

    private static CancellationToken Timeout(int seconds = 90) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    private static readonly GroupHealthOptions Fast = new()
    {
        Interval = TimeSpan.FromMilliseconds(200),
        FirstReportInterval = TimeSpan.FromSeconds(1),
        MaxReportInterval = TimeSpan.FromSeconds(2),
        ReseedBlobsPerSecond = 2000,
    };

    [Test]
    public async Task AReplacementGetsEveryBlobTheSurvivorsHoldAndNothingTwice()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(4);
        var slots = new SlotMap(fleet, new() { ["mbx-a"] = 0, ["mbx-b"] = 1, ["mbx-c"] = 2 });
        using var secret = GroupSecret.Generate();
        var store = Store(secret, ["mbx-a", "mbx-b", "mbx-c"]);
        // Every push waits for all three attempts to end, so what d holds is known when the re-seed lists it.
        var options = MailboxFleet.FastOptions with { PullLimit = 7, RequiredAcks = 3 };
        await using var device = new GroupClient(store, await fleet.ClientHostAsync(), slots, fleet.Verifier, options);
        for (var i = 0; i < 20; i++) await device.PushAsync(System.Text.Encoding.UTF8.GetBytes($"before-{i}"), ct);
        Assert.That((await device.FlushAsync(all: true, ct)).Remaining, Is.Zero);
        var schedule = new ReportSchedule(Fast.FirstReportInterval, Fast.MaxReportInterval);
        var first = await device.HealthRoundAsync(Fast, schedule, ct);
        Assert.That((first.Unreachable, first.NewReseeds, first.PendingReseeds), Is.EqualTo((0, 0, 0)), "first sight of each node is no move");

        await fleet.Servers[1].StopAsync();
        for (var i = 0; i < 5; i++) await device.PushAsync(System.Text.Encoding.UTF8.GetBytes($"during-{i}"), ct);
        var down = await device.HealthRoundAsync(Fast, schedule, ct);
        Assert.That((down.Unreachable, down.NewReseeds), Is.EqualTo((1, 0)));
        // The outbox rows for mbx-b are dropped here so only the re-seed can bring these blobs to the replacement.
        foreach (var row in store.DueEntries(null, 100).Where(e => e.Slot == "mbx-b")) store.MarkDelivered(row.BlobId, row.Generation, row.Slot);

        slots.Move("mbx-b", 3);
        var moved = await device.HealthRoundAsync(Fast, schedule, ct);
        Assert.That((moved.Unreachable, moved.NewReseeds, moved.PendingReseeds), Is.EqualTo((0, 1, 1)));
        Assert.That(store.ReseedJobs().Single().Target, Is.EqualTo(fleet.Servers[3].PeerId.ToString()));
        await device.PushAsync("after-move"u8.ToArray(), ct); // d holds this one already: reconciliation skips it

        var pushed = await device.ReseedAsync(Fast, ct);
        Assert.That(pushed, Is.EqualTo(25), "20 before the failure + 5 during it; the one pushed after the move was there");
        Assert.That(store.ReseedJobs(), Is.Empty);
        Assert.That(await device.ReseedAsync(Fast, ct), Is.Zero, "a finished job is not run again");

        var onlyD = await ReadReplacementAsync(fleet, secret, ct);
        Assert.That(onlyD.Values.Select(v => System.Text.Encoding.UTF8.GetString(v)).Order(),
            Is.EqualTo(Enumerable.Range(0, 20).Select(i => $"before-{i}").Concat(Enumerable.Range(0, 5).Select(i => $"during-{i}")).Append("after-move").Order()));
    }

    [Test]
    public async Task AReplacementGetsTheUnionOfEverySurvivorWhenOneReplicaTrimmed()
    {
        var ct = Timeout();
        // Replicas keep blobs until every device acknowledged them; cleanup runs only when the test says.
        await using var fleet = await MailboxFleet.StartAsync(4, configure: o => o with
        {
            Store = o.Store with { Role = KontinuumP2P.Mailbox.Wire.MailboxRole.Replica, BackgroundCleanup = false },
        });
        var slots = new SlotMap(fleet, new() { ["mbx-a"] = 0, ["mbx-b"] = 1, ["mbx-c"] = 2 });
        using var secret = GroupSecret.Generate();
        var store = Store(secret, ["mbx-a", "mbx-b", "mbx-c"]);
        await using var device = new GroupClient(store, await fleet.ClientHostAsync(), slots, fleet.Verifier, MailboxFleet.FastOptions with { PullLimit = 7, RequiredAcks = 3 });
        var ids = new List<BlobId>();
        for (var i = 0; i < 12; i++) ids.Add((await device.PushAsync(System.Text.Encoding.UTF8.GetBytes($"early-{i}"), ct)).Id);
        Assert.That((await device.FlushAsync(all: true, ct)).Remaining, Is.Zero);
        // The only device acknowledges everything; survivor a trims it, c has not run its cleanup yet.
        await device.PullAsync((_, _) => ValueTask.CompletedTask, ack: true, ct);
        Assert.That((await fleet.Servers[0].Server!.Store.RunCleanupAsync(ct)).Blobs, Is.EqualTo(12), "a trimmed every acknowledged blob");
        for (var i = 0; i < 8; i++) ids.Add((await device.PushAsync(System.Text.Encoding.UTF8.GetBytes($"late-{i}"), ct)).Id);
        Assert.That((await device.FlushAsync(all: true, ct)).Remaining, Is.Zero);
        var schedule = new ReportSchedule(Fast.FirstReportInterval, Fast.MaxReportInterval);
        await device.HealthRoundAsync(Fast, schedule, ct);

        await StopAndMoveAsync(fleet, slots, device, store, schedule, ct);
        ids.Add(_whileDown);
        // a is read first (slot order) and holds only the 8 late blobs and the one pushed while b was down; the 12
        // early ones come from c.
        Assert.That(await device.ReseedAsync(Fast, ct), Is.EqualTo(21));
        Assert.That(store.ReseedJobs(), Is.Empty);
        var onD = await ReadReplacementAsync(fleet, secret, ct);
        Assert.That(onD.Keys, Is.EquivalentTo(ids), "every blob id on the replacement");
    }

    [Test]
    public async Task AJobWaitsForAnUnreachableSurvivorAndResumesWithTheOnesNotDone()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(4);
        var slots = new SlotMap(fleet, new() { ["mbx-a"] = 0, ["mbx-b"] = 1, ["mbx-c"] = 2 });
        using var secret = GroupSecret.Generate();
        var store = Store(secret, ["mbx-a", "mbx-b", "mbx-c"]);
        await using var device = new GroupClient(store, await fleet.ClientHostAsync(), slots, fleet.Verifier, MailboxFleet.FastOptions with { RequiredAcks = 3 });
        for (var i = 0; i < 6; i++) await device.PushAsync(System.Text.Encoding.UTF8.GetBytes($"blob-{i}"), ct);
        Assert.That((await device.FlushAsync(all: true, ct)).Remaining, Is.Zero);
        var schedule = new ReportSchedule(Fast.FirstReportInterval, Fast.MaxReportInterval);
        await device.HealthRoundAsync(Fast, schedule, ct);
        await StopAndMoveAsync(fleet, slots, device, store, schedule, ct);
        await fleet.Servers[2].StopAsync();

        Assert.That(await device.ReseedAsync(Fast, ct), Is.EqualTo(7), "a's blobs go at once");
        var job = store.ReseedJobs().Single();
        Assert.That(job.Done, Is.EqualTo(new[] { "mbx-a" }), "pending for c, with a recorded as done");
        await fleet.Servers[2].StartAsync();
        Assert.That(await device.ReseedAsync(Fast, ct), Is.Zero, "c adds nothing new and a is not read again");
        Assert.That(store.ReseedJobs(), Is.Empty);
    }

    private BlobId _whileDown;

    /// <summary>Stops b, pushes one blob the client then knows b missed (its outbox row dropped, so only the re-seed
    /// brings it), and moves b's slot to server d: the next round records the job.</summary>
    private async Task StopAndMoveAsync(MailboxFleet fleet, SlotMap slots, GroupClient device, GroupStore store, ReportSchedule schedule, CancellationToken ct)
    {
        await fleet.Servers[1].StopAsync();
        _whileDown = (await device.PushAsync("while-down"u8.ToArray(), ct)).Id;
        Assert.That((await device.HealthRoundAsync(Fast, schedule, ct)).Unreachable, Is.EqualTo(1));
        foreach (var row in store.DueEntries(null, 100).Where(e => e.Slot == "mbx-b")) store.MarkDelivered(row.BlobId, row.Generation, row.Slot);
        slots.Move("mbx-b", 3);
        Assert.That((await device.HealthRoundAsync(Fast, schedule, ct)).NewReseeds, Is.EqualTo(1));
    }

    [Test]
    public async Task APendingReseedSurvivesARestartAndTheLoopFinishesIt()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(4);
        var slots = new SlotMap(fleet, new() { ["mbx-a"] = 0, ["mbx-b"] = 1, ["mbx-c"] = 2 });
        using var secret = GroupSecret.Generate();
        var store = Store(secret, ["mbx-a", "mbx-b", "mbx-c"]);
        var dir = _dirs[^1];
        await using (var device = new GroupClient(store, await fleet.ClientHostAsync(), slots, fleet.Verifier, MailboxFleet.FastOptions))
        {
            for (var i = 0; i < 10; i++) await device.PushAsync(System.Text.Encoding.UTF8.GetBytes($"blob-{i}"), ct);
            Assert.That((await device.FlushAsync(all: true, ct)).Remaining, Is.Zero);
            var schedule = new ReportSchedule(Fast.FirstReportInterval, Fast.MaxReportInterval);
            await device.HealthRoundAsync(Fast, schedule, ct);
            await fleet.Servers[1].StopAsync();
            // A push owed to b fails on its dead session: the client knows b is down (its row stays in the outbox).
            await device.PushAsync("while-down"u8.ToArray(), ct);
            Assert.That((await device.FlushAsync(all: true, ct)).Remaining, Is.EqualTo(1));
            slots.Move("mbx-b", 3);
            Assert.That((await device.HealthRoundAsync(Fast, schedule, ct)).PendingReseeds, Is.EqualTo(1));
        }
        store.Dispose();

        // Another process of the same device: the job is read back from group.db and the loop runs it.
        var reopened = Store(secret, [], dir);
        Assert.That(reopened.ReseedJobs(), Has.Count.EqualTo(1));
        await using var again = new GroupClient(reopened, await fleet.ClientHostAsync(), slots, fleet.Verifier, MailboxFleet.FastOptions);
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        // After the re-seed the loop empties b's old node, resolved by its peer id, which this resolver does not know: it
        // is held there until the loop stops and then fails, as a resolver may when the stop closes what it waits on.
        var retiring = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        slots.BeforeUnknown = async token =>
        {
            retiring.TrySetResult();
            var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (token.Register(() => stopped.TrySetResult())) await stopped.Task;
        };
        var loop = again.StartHealthLoop(Fast);
        loop.Reseeded += n => done.TrySetResult(n);
        // 10 from the survivor; "while-down" reached d from the outbox or through the re-seed, whichever came first.
        Assert.That(await done.Task.WaitAsync(ct), Is.InRange(10, 11));
        Assert.That(() => again.StartHealthLoop(Fast), Throws.InvalidOperationException, "one loop per client");
        await retiring.Task.WaitAsync(ct);
        // A failure the stop caused ends the loop quietly (it once escaped from DisposeAsync when the stop came mid-pass).
        Assert.That(async () => await loop.DisposeAsync(), Throws.Nothing);
        slots.BeforeUnknown = null;
        Assert.That(reopened.ReseedJobs(), Is.Empty);
        Assert.That(await ReadReplacementAsync(fleet, secret, ct), Has.Count.EqualTo(11));
    }

    [Test]
    public async Task TheReseedRateIsBounded()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(4);
        var slots = new SlotMap(fleet, new() { ["mbx-a"] = 0, ["mbx-b"] = 1, ["mbx-c"] = 2 });
        using var secret = GroupSecret.Generate();
        var store = Store(secret, ["mbx-a", "mbx-b", "mbx-c"]);
        await using var device = new GroupClient(store, await fleet.ClientHostAsync(), slots, fleet.Verifier, MailboxFleet.FastOptions with { RequiredAcks = 3 });
        for (var i = 0; i < 30; i++) await device.PushAsync(System.Text.Encoding.UTF8.GetBytes($"blob-{i}"), ct);
        await fleet.Servers[1].StopAsync();
        await device.PushAsync("while-down"u8.ToArray(), ct); // fails on b's dead session: b is known down
        slots.Move("mbx-b", 3);
        await device.HealthRoundAsync(Fast, new ReportSchedule(Fast.FirstReportInterval, Fast.MaxReportInterval), ct);
        Assert.That(store.ReseedJobs(), Has.Count.EqualTo(1));
        // 20 blobs/s with a bucket of 20: the 31 blobs cannot all go out in less than (31 - 20) / 20 s.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.That(await device.ReseedAsync(Fast with { ReseedBlobsPerSecond = 20 }, ct), Is.EqualTo(31));
        Assert.That(watch.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(0.5)));
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task TheHealthLoopKeepsItsStateBoundedAndStopsWhenTold(CancellationToken ct)
    {
        await using var fleet = await MailboxFleet.StartAsync(3);
        var slots = new SlotMap(fleet, new() { ["mbx-a"] = 0, ["mbx-b"] = 1, ["mbx-c"] = 2 });
        using var secret = GroupSecret.Generate();
        var store = Store(secret, ["mbx-a", "mbx-b", "mbx-c"]);
        await using var device = new GroupClient(store, await fleet.ClientHostAsync(), slots, fleet.Verifier, MailboxFleet.FastOptions with { RequiredAcks = 3 });
        await device.PushAsync("x"u8.ToArray(), ct);
        await fleet.Servers[1].StopAsync();
        await device.PushAsync("y"u8.ToArray(), ct);
        Assert.That((await device.FlushAsync(all: true, ct)).Remaining, Is.EqualTo(1), "b is known down");
        // A round every 20 ms with b down: each round probes b and considers a report; 200 rounds at most.
        const int Rounds = 200;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var rounds = 0;
        var loop = device.StartHealthLoop(Fast with { Interval = TimeSpan.FromMilliseconds(20), FirstReportInterval = TimeSpan.FromMilliseconds(20), MaxReportInterval = TimeSpan.FromMilliseconds(40) });
        loop.RoundCompleted += r =>
        {
            Assert.That(r.Unreachable, Is.EqualTo(1));
            if (Interlocked.Increment(ref rounds) == Rounds) done.TrySetResult();
        };
        GC.Collect();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        var wall = System.Diagnostics.Stopwatch.StartNew();
        await done.Task.WaitAsync(ct);
        await loop.DisposeAsync();
        var cpuUsed = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu;
        var after = GC.GetTotalMemory(forceFullCollection: true);
        TestContext.Out.WriteLine($"health loop soak: {Rounds} rounds in {wall.Elapsed.TotalSeconds:0.0} s, cpu {cpuUsed.TotalSeconds:0.00} s, heap {before / 1024} KiB -> {after / 1024} KiB");
        Assert.That(after - before, Is.LessThan(16L << 20), "no growth per round");
        // Stopped: no round completes after dispose returned, and a new loop may be started.
        var stoppedAt = Volatile.Read(ref rounds);
        var probe = await device.HealthRoundAsync(Fast, new ReportSchedule(Fast.FirstReportInterval, Fast.MaxReportInterval), ct);
        Assert.That(Volatile.Read(ref rounds), Is.EqualTo(stoppedAt), "the loop's task ended with dispose");
        Assert.That(probe.Unreachable, Is.EqualTo(1));
        await using var again = device.StartHealthLoop(Fast);
    }

    [Test]
    public void ReportsAreDueAtOnceThenBackOffToTheCapAndStopOnRecoveryOrAMove()
    {
        var t0 = DateTimeOffset.UnixEpoch;
        var s = new ReportSchedule(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(100));
        Assert.That(s.Due("b", "n1", t0), Is.True, "first report at once");
        Assert.That(s.Due("b", "n1", t0 + TimeSpan.FromSeconds(29.9)), Is.False, "not a tick early");
        Assert.That(s.Due("b", "n1", t0 + TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(s.Interval("b"), Is.EqualTo(TimeSpan.FromSeconds(60)));
        Assert.That(s.Due("b", "n1", t0 + TimeSpan.FromSeconds(89.9)), Is.False);
        Assert.That(s.Due("b", "n1", t0 + TimeSpan.FromSeconds(90)), Is.True);
        Assert.That(s.Interval("b"), Is.EqualTo(TimeSpan.FromSeconds(100)), "capped");
        Assert.That(s.Due("b", "n1", t0 + TimeSpan.FromSeconds(190)), Is.True);
        Assert.That(s.Interval("b"), Is.EqualTo(TimeSpan.FromSeconds(100)));
        // HQ moved the slot: the replacement's own failure is a new incident, reported at once.
        Assert.That(s.Due("b", "n2", t0 + TimeSpan.FromSeconds(191)), Is.True);
        Assert.That(s.Interval("b"), Is.EqualTo(TimeSpan.FromSeconds(30)));
        s.Recovered("b");
        Assert.That((s.Count, s.Interval("b")), Is.EqualTo((0, (TimeSpan?)null)));
        Assert.That(s.Due("b", "n2", t0 + TimeSpan.FromSeconds(192)), Is.True, "a new failure after recovery is reported at once");
    }

    [Test]
    public void BadHealthSettingsAreRefused()
    {
        Assert.That(() => new GroupHealthOptions { ReseedBlobsPerSecond = 0 }.Validate(), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => new GroupHealthOptions { MaxReportInterval = TimeSpan.FromSeconds(1) }.Validate(), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => new GroupHealthOptions { Interval = TimeSpan.Zero }.Validate(), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    /// <summary>Every blob server d holds for the group's slot mbx-b, read by a fresh device that knows only that slot.</summary>
    private async Task<ConcurrentDictionary<BlobId, byte[]>> ReadReplacementAsync(MailboxFleet fleet, GroupSecret secret, CancellationToken ct)
    {
        var reader = Store(secret, ["mbx-b"]);
        await using var client = new GroupClient(reader, await fleet.ClientHostAsync(), new SlotMap(fleet, new() { ["mbx-b"] = 3 }), fleet.Verifier, MailboxFleet.FastOptions);
        var received = new ConcurrentDictionary<BlobId, byte[]>();
        var pull = await client.PullAsync((blob, _) =>
        {
            Assert.That(received.TryAdd(blob.Id, blob.Plaintext.ToArray()), Is.True, "each blob once");
            return ValueTask.CompletedTask;
        }, ack: false, ct);
        Assert.That(pull.Unreachable, Is.Empty);
        Assert.That(pull.Rejected, Is.Zero);
        return received;
    }

    /// <summary>Slot names to fleet servers, movable (what HQ's slot records do for real nodes).</summary>
    private sealed class SlotMap(MailboxFleet fleet, Dictionary<string, int> map) : IMailboxResolver
    {
        private readonly Lock _lock = new();

        public void Move(string slot, int server)
        {
            lock (_lock) map[slot] = server;
        }

        /// <summary>Awaited before an unknown slot is refused (a node the slot left is resolved by its peer id).</summary>
        public Func<CancellationToken, Task>? BeforeUnknown { get; set; }

        public Task<MailboxEndpoint> ResolveAsync(string slot, CancellationToken cancellationToken)
        {
            int index;
            lock (_lock)
            {
                if (!map.TryGetValue(slot, out index))
                {
                    return BeforeUnknown is { } hook ? RefuseAfterAsync(hook, slot, cancellationToken) : throw Unknown(slot);
                }
            }
            var s = fleet.Servers[index];
            return Task.FromResult(new MailboxEndpoint(s.PeerId, [s.Address], s.Certificate));
        }

        private static MailboxUnavailableException Unknown(string slot) => new(slot, $"unknown slot {slot}");

        private static async Task<MailboxEndpoint> RefuseAfterAsync(Func<CancellationToken, Task> hook, string slot, CancellationToken cancellationToken)
        {
            await hook(cancellationToken);
            throw Unknown(slot);
        }
    }
}
