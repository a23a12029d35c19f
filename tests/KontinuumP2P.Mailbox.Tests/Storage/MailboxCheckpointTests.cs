using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Tests.Storage;

/// <summary>Passive checkpoints on their own connection, with the writer's automatic checkpoint only as the WAL's backstop.</summary>
[TestFixture]
public sealed class MailboxCheckpointTests : StoreDirectoryTest
{
    private const int Backstop = 200;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    [Test]
    public async Task Background_checkpoints_run_while_pushes_flow_the_wal_stays_within_the_backstop_and_stop_at_dispose()
    {
        var path = Path.Combine(StoreDirectory, "m.db");
        var options = new MailboxStoreOptions
        {
            DatabasePath = path, BackgroundCleanup = false, CheckpointInterval = TimeSpan.FromMilliseconds(5), CheckpointBackstopPages = Backstop,
        };
        var (store, c, handle) = await OpenWithMailboxAsync(options);
        var checkpointed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Checkpointed = () => checkpointed.TrySetResult();

        // 8,000 one-KiB pushes, 64 at a time: about 2,500 WAL pages, far past the backstop of 200.
        long walMax = 0;
        var ids = new List<byte[]>();
        for (var round = 0; round < 125; round++)
        {
            walMax = Math.Max(walMax, await PushRoundAsync(store, handle, 64, ids, path));
        }
        await checkpointed.Task.WaitAsync(Wait);
        Assert.That(store.BackgroundCheckpoints, Is.GreaterThan(0));
        // One WAL frame is a 24-byte header plus a page. A group's frames may land before the backstop fires, and the
        // backstop skips every commit while the background checkpoint holds the checkpoint lock (~3.5 pages per push
        // here): on a loaded machine a pass starved of a core held it for ~740 pages of commits (942 frames at a load
        // average of 20 on 2 cores), so the margin is 2,000 pages, still a fourteenth of what the pushes write.
        long frame = 24 + store.PageSize;
        Assert.That(walMax, Is.LessThanOrEqualTo(32 + (Backstop + 2_000) * frame), "the WAL file stays near the backstop (8,000 pushes write ~28,000 pages)");

        // Dispose awaits the checkpoint task: it would time out here if the loop did not stop when told.
        await store.DisposeAsync().AsTask().WaitAsync(Wait);

        await AssertEveryBlobOnceAfterReopenAsync(options, c, ids);
    }
    [Test]
    public async Task Past_the_restart_threshold_the_writer_checkpoints_between_groups_and_the_wal_restarts_long_before_the_backstop()
    {
        var path = Path.Combine(StoreDirectory, "r.db");
        var options = new MailboxStoreOptions
        {
            DatabasePath = path, BackgroundCleanup = false, CheckpointInterval = TimeSpan.FromMilliseconds(5),
            CheckpointBackstopPages = 1_000_000, CheckpointRestartPages = 300, RestartCatchUpPasses = 0, // the ask alone; catch-up below
        };
        var (store, c, handle) = await OpenWithMailboxAsync(options);
        var ids = new List<byte[]>();
        long walMax = 0;
        // Pushes without a pause, so the background checkpoints never catch up with the writer and never restart the
        // WAL themselves; from the first checkpoint that sees 300 pages on, every round asks the writer: about 8,000 pages in all.
        var checkpointed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Checkpointed = () => checkpointed.TrySetResult();
        // Under load the first restart can come late (the checkpoint thread waits for a core): pushing goes on, up to a
        // bound, until the WAL has stayed below half of what was pushed; a WAL that never restarts never gets there.
        var frame = 24L + store.PageSize;
        for (var round = 0; round < 100 || ((store.WriterCheckpoints == 0 || walMax >= ids.Count / 2 * frame) && round < 1000); round++)
        {
            walMax = Math.Max(walMax, await PushRoundAsync(store, handle, 32, ids, path));
        }
        await checkpointed.Task.WaitAsync(Wait);
        Assert.That(store.WriterCheckpoints, Is.GreaterThan(0), "the writer was asked to restart the WAL");
        // The WAL restarts from its start once the writer's checkpoint covered it: it never holds the 8,000 pages pushed.
        Assert.That(walMax, Is.LessThan(ids.Count / 2 * frame), "the WAL restarted long before it held every push");
        await store.DisposeAsync().AsTask().WaitAsync(Wait);

        await AssertEveryBlobOnceAfterReopenAsync(options, c, ids);
    }

    [Test]
    public async Task Catch_up_passes_run_before_the_writer_is_asked_and_the_wal_still_restarts_with_every_blob_kept()
    {
        var path = Path.Combine(StoreDirectory, "c.db");
        // A zero target: every catch-up pass allowed runs, so the test sees them whatever the disk's speed.
        var options = new MailboxStoreOptions
        {
            DatabasePath = path, BackgroundCleanup = false, CheckpointInterval = TimeSpan.FromMilliseconds(5),
            CheckpointBackstopPages = 1_000_000, CheckpointRestartPages = 300, RestartCatchUpPasses = 3, RestartCatchUpTarget = TimeSpan.Zero,
        };
        var (store, c, handle) = await OpenWithMailboxAsync(options);
        var ids = new List<byte[]>();
        long walMax = 0;
        // ~10,000 pushes (~35,000 WAL pages): the catch-up passes delay each ask, so the run is longer than the test above.
        var frame = 24L + store.PageSize;
        for (var round = 0; round < 300 || ((store.WriterCheckpoints < 2 || walMax >= ids.Count / 2 * frame) && round < 3000); round++)
        {
            walMax = Math.Max(walMax, await PushRoundAsync(store, handle, 32, ids, path));
        }
        Assert.That(walMax, Is.LessThan(ids.Count / 2 * frame), "the WAL restarted long before it held every push");
        // The counters are read once the background task has stopped: read while it runs, a pass counted between the two
        // reads put one more pass than three per counted checkpoint (82 against 81 in CI).
        await store.DisposeAsync().AsTask().WaitAsync(Wait);
        Assert.That(store.WriterCheckpoints, Is.GreaterThan(1), "the writer was asked to restart the WAL");
        // Every ask follows its catch-up passes, three each at a zero target.
        Assert.That(store.CatchUpPasses, Is.GreaterThanOrEqualTo(3 * store.WriterCheckpoints));
        Assert.That(store.CatchUpPasses, Is.LessThanOrEqualTo(3 * store.BackgroundCheckpoints), "at most three passes per periodic checkpoint");

        await AssertEveryBlobOnceAfterReopenAsync(options, c, ids);
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task Each_background_pass_syncs_the_database_before_any_restart_is_asked_unless_turned_off(bool sync)
    {
        var path = Path.Combine(StoreDirectory, $"s{sync}.db");
        var options = new MailboxStoreOptions
        {
            DatabasePath = path, BackgroundCleanup = false, CheckpointInterval = TimeSpan.FromMilliseconds(5),
            CheckpointBackstopPages = 1_000_000, CheckpointRestartPages = 300, RestartCatchUpPasses = 0, BackgroundDatabaseSync = sync,
        };
        var (store, c, handle) = await OpenWithMailboxAsync(options);
        // Read when each pass reports, after its ask: the pass's database sync must already be counted.
        var syncsBehind = 0;
        store.Checkpointed = () =>
        {
            if (store.BackgroundDatabaseSyncs != (sync ? store.BackgroundCheckpoints : 0)) Interlocked.Increment(ref syncsBehind);
        };
        var ids = new List<byte[]>();
        for (var round = 0; round < 100 || (store.WriterCheckpoints == 0 && round < 1000); round++) await PushRoundAsync(store, handle, 32, ids, path);
        Assert.That(store.WriterCheckpoints, Is.GreaterThan(0), "restarts were asked");
        Assert.That(syncsBehind, Is.Zero, sync ? "every pass was followed by its database sync before it reported" : "no background database sync when turned off");
        await store.DisposeAsync().AsTask().WaitAsync(Wait);

        await AssertEveryBlobOnceAfterReopenAsync(options, c, ids);
    }

    [Test]
    [Category("Slow")]
    public async Task Soak_the_checkpoint_loop_keeps_memory_flat_idles_without_checkpoints_and_stops_at_dispose()
    {
        var options = new MailboxStoreOptions
        {
            DatabasePath = Path.Combine(StoreDirectory, "soak.db"), BackgroundCleanup = false, CheckpointInterval = TimeSpan.FromMilliseconds(5),
        };
        var (store, c, handle) = await OpenWithMailboxAsync(options);
        TaskCompletionSource next = new(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Checkpointed = () => Volatile.Read(ref next).TrySetResult();

        long heapAfterWarmUp = 0;
        for (var round = 0; round < 300; round++)
        {
            var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref next, waiting);
            var blobs = Enumerable.Range(0, 16).Select(_ => Blobs.Make(1024)).ToList();
            await Task.WhenAll(blobs.Select(b => store.PushAsync(handle, b.Id, b.Data, TimeSpan.Zero, CancellationToken.None))).WaitAsync(Wait);
            // Each round's commits are followed by a checkpoint of their own.
            await waiting.Task.WaitAsync(Wait);
            if (round == 29) heapAfterWarmUp = GC.GetTotalMemory(forceFullCollection: true);
        }
        var heapGrowth = GC.GetTotalMemory(forceFullCollection: true) - heapAfterWarmUp;
        Assert.That(heapGrowth, Is.LessThan(2L << 20), "270 rounds of pushes and checkpoints leave the heap flat");

        // Idle: nothing committed, so no checkpoint runs and the loop costs next to no CPU over a second of 200 intervals.
        var checkpoints = store.BackgroundCheckpoints;
        var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        var idle = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(1)); // a measurement window, not a synchronisation
        var idleCpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu;
        Assert.That(store.BackgroundCheckpoints, Is.EqualTo(checkpoints), "no checkpoint without a commit");
        Assert.That(idleCpu.TotalMilliseconds, Is.LessThan(0.25 * idle.Elapsed.TotalMilliseconds), "idle loop CPU");

        // Dispose awaits the loop: it would time out here if the loop did not stop when told.
        await store.DisposeAsync().AsTask().WaitAsync(Wait);
    }

    /// <summary>Opens a store and one mailbox in it.</summary>
    private static async Task<(MailboxStore Store, Credentials Credentials, MailboxHandle Handle)> OpenWithMailboxAsync(MailboxStoreOptions options)
    {
        var store = await MailboxStore.OpenAsync(options);
        var c = Credentials.Random();
        var handle = (await store.OpenMailboxAsync(c.MailboxId, c.Capability, c.DeviceId, c.ArchiveKey, CancellationToken.None)).Handle;
        return (store, c, handle);
    }

    /// <summary>Pushes <paramref name="count"/> one-KiB blobs at once and returns the WAL file's size after them.</summary>
    private static async Task<long> PushRoundAsync(MailboxStore store, MailboxHandle handle, int count, List<byte[]> ids, string path)
    {
        var blobs = Enumerable.Range(0, count).Select(_ => Blobs.Make(1024)).ToList();
        await Task.WhenAll(blobs.Select(b => store.PushAsync(handle, b.Id, b.Data, TimeSpan.Zero, CancellationToken.None))).WaitAsync(Wait);
        ids.AddRange(blobs.Select(b => b.Id));
        return new FileInfo(path + "-wal").Length;
    }

    private static async Task AssertEveryBlobOnceAfterReopenAsync(MailboxStoreOptions options, Credentials c, List<byte[]> ids)
    {
        await using var reopened = await MailboxStore.OpenAsync(options with { CheckpointInterval = TimeSpan.Zero });
        var again = (await reopened.OpenMailboxAsync(c.MailboxId, c.Capability, c.DeviceId, c.ArchiveKey, CancellationToken.None)).Handle;
        var read = new List<string>();
        MailboxPullResult page;
        ulong after = 0;
        do
        {
            page = await reopened.ReadAfterAsync(again, after, 10_000, 64 << 20, CancellationToken.None);
            read.AddRange(page.Blobs.Select(b => Convert.ToHexString(b.BlobId.Span)));
            if (page.Blobs.Count > 0) after = page.Blobs[^1].Cursor;
        }
        while (page.HasMore && page.Blobs.Count > 0);
        Assert.That(read, Is.EqualTo(ids.Select(Convert.ToHexString)), "every blob, in order, once");
    }
}
