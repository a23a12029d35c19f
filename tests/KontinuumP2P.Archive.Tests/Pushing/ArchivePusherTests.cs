using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Mailbox.Storage;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Archive.Tests.Pushing;

public sealed class ArchivePusherTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-pusher-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private sealed class Rig : IAsyncDisposable
    {
        public required MailboxStore Store { get; init; }
        public required PusherStateStore State { get; init; }
        public required DirectorySink Sink { get; init; }
        public required ArchivePusher Pusher { get; init; }
        public required FakeTimeProvider Time { get; init; }

        public async ValueTask DisposeAsync()
        {
            Pusher.Dispose();
            State.Dispose();
            await Sink.DisposeAsync();
            await Store.DisposeAsync();
        }
    }

    private async Task<Rig> StartAsync(ArchivePusherOptions options, string state = "state.db")
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        var store = await ReplicaStore.OpenAsync(Path.Combine(_dir, "store.db"));
        var stateStore = new PusherStateStore(Path.Combine(_dir, state));
        var sink = new DirectorySink(Path.Combine(_dir, "sink"));
        var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store), [sink], stateStore, options, time);
        return new Rig { Store = store, State = stateStore, Sink = sink, Pusher = pusher, Time = time };
    }

    [Test]
    public async Task A_pack_is_cut_at_the_target_size_and_the_tail_waits_for_its_age()
    {
        await using var rig = await StartAsync(new ArchivePusherOptions { TargetPackBytes = 64 * 1024, MaxPackAge = TimeSpan.FromMinutes(15) });
        var random = new Random(1);
        var boxes = ReplicaStore.MakeBoxes(random, 1);
        await ReplicaStore.PushAsync(rig.Store, boxes, random, 100, 1000, 1000);
        // 100 KB: one full pack now; the remaining ~36 KB wait.
        Assert.That(await rig.Pusher.RunOnceAsync(flush: false, CancellationToken.None), Is.EqualTo(1));
        var first = rig.State.Get(boxes[0].MailboxId)!;
        Assert.That(first.ArchivedUpTo, Is.InRange(50UL, 70UL));
        rig.Time.Advance(TimeSpan.FromMinutes(14));
        Assert.That(await rig.Pusher.RunOnceAsync(flush: false, CancellationToken.None), Is.Zero, "younger than 15 min");
        rig.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.That(await rig.Pusher.RunOnceAsync(flush: false, CancellationToken.None), Is.EqualTo(1), "15 min old");
        Assert.That(rig.State.Get(boxes[0].MailboxId)!.ArchivedUpTo, Is.EqualTo(100UL));
        Assert.That(rig.State.Packs().Select(p => p.Sequence), Is.EqualTo(new ulong[] { 0, 1 }));
        Assert.That(rig.State.Packs().All(p => p.Bytes <= 64 * 1024), Is.True);
    }

    [Test]
    public async Task The_background_loop_archives_on_its_poll_interval_and_stops_when_told()
    {
        await using var rig = await StartAsync(new ArchivePusherOptions { TargetPackBytes = 4096, PollInterval = TimeSpan.FromSeconds(30) });
        var random = new Random(2);
        var boxes = ReplicaStore.MakeBoxes(random, 2);
        var rounds = 0;
        var roundDone = new SemaphoreSlim(0);
        rig.Pusher.RoundCompleted += _ =>
        {
            Interlocked.Increment(ref rounds);
            roundDone.Release();
        };
        await rig.Pusher.StartAsync(CancellationToken.None);
        Assert.That(await roundDone.WaitAsync(TimeSpan.FromSeconds(30)), Is.True, "first round at start");
        await ReplicaStore.PushAsync(rig.Store, boxes, random, 20, 1000, 1000);
        var started = rig.Time.GetUtcNow();
        // Step virtual time one poll interval at a time (the loop may not have armed its timer yet when a step
        // lands, so a step is repeated until a round reports, a bounded number of times).
        for (var step = 0; step < 200 && !boxes.All(b => rig.State.Get(b.MailboxId)?.ArchivedUpTo == 20); step++)
        {
            rig.Time.Advance(TimeSpan.FromSeconds(30));
            await roundDone.WaitAsync(TimeSpan.FromMilliseconds(200));
        }
        foreach (var box in boxes) Assert.That(rig.State.Get(box.MailboxId)!.ArchivedUpTo, Is.EqualTo(20UL));
        Assert.That(rig.State.Packs(), Has.Count.GreaterThanOrEqualTo(10), "4 KiB packs");
        Assert.That(rig.Time.GetUtcNow() - started, Is.GreaterThanOrEqualTo(TimeSpan.FromMinutes(15)), "the tails waited for their age");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await rig.Pusher.StopAsync(stop.Token);
        Assert.That(rig.Pusher.ExecuteTask!.IsCompleted, Is.True, "the loop ended");
        var after = rounds;
        rig.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.That(rounds, Is.EqualTo(after), "no round after stop");
    }

    [Test]
    public async Task A_lost_state_file_is_rebuilt_from_the_chain_in_the_sink_without_repacking()
    {
        var random = new Random(3);
        var boxes = ReplicaStore.MakeBoxes(random, 1);
        await using (var rig = await StartAsync(new ArchivePusherOptions { TargetPackBytes = 8192 }, "a.db"))
        {
            await ReplicaStore.PushAsync(rig.Store, boxes, random, 30, 500, 1500);
            await rig.Pusher.RunOnceAsync(flush: true, CancellationToken.None);
        }
        await using (var rig = await StartAsync(new ArchivePusherOptions { TargetPackBytes = 8192 }, "b.db"))
        {
            Assert.That(await rig.Pusher.RunOnceAsync(flush: true, CancellationToken.None), Is.Zero, "nothing new");
            Assert.That(rig.State.Get(boxes[0].MailboxId)!.ArchivedUpTo, Is.EqualTo(30UL));
            await ReplicaStore.PushAsync(rig.Store, boxes, random, 5, 500, 1500);
            Assert.That(await rig.Pusher.RunOnceAsync(flush: true, CancellationToken.None), Is.EqualTo(1));
            var stored = await ReplicaStore.ReadAllAsync(rig.Store);
            ArchiveCheck.AssertExactlyOnce(stored, await ArchiveCheck.RestoreAllAsync([rig.Sink], boxes));
            await ArchiveCheck.AssertNoOrphanOrDuplicatePacksAsync(rig.Sink, boxes);
        }
    }

    [Test]
    public async Task A_reset_store_with_a_new_epoch_is_archived_from_cursor_one_again_on_the_same_chain()
    {
        var random = new Random(4);
        var boxes = ReplicaStore.MakeBoxes(random, 1);
        Dictionary<string, List<ArchiveBlob>> before, after;
        await using (var rig = await StartAsync(new ArchivePusherOptions { TargetPackBytes = 8192 }))
        {
            before = await ReplicaStore.PushAsync(rig.Store, boxes, random, 20, 500, 1500);
            await rig.Pusher.RunOnceAsync(flush: true, CancellationToken.None);
        }
        foreach (var file in Directory.EnumerateFiles(_dir, "store.db*")) File.Delete(file);
        await using (var rig = await StartAsync(new ArchivePusherOptions { TargetPackBytes = 8192 }))
        {
            after = await ReplicaStore.PushAsync(rig.Store, boxes, random, 7, 500, 1500);
            Assert.That(after.Values.Single()[^1].Cursor, Is.EqualTo(7UL), "cursors restarted");
            Assert.That(await rig.Pusher.RunOnceAsync(flush: true, CancellationToken.None), Is.GreaterThan(0));
            var state = rig.State.Get(boxes[0].MailboxId)!;
            Assert.That(state.ArchivedUpTo, Is.EqualTo(7UL));
            var opened = await rig.Store.OpenMailboxAsync(boxes[0].MailboxId, boxes[0].Capability, boxes[0].DeviceId, boxes[0].ArchiveKey, CancellationToken.None);
            Assert.That(state.Epoch, Is.EqualTo(rig.Store.EpochOf(opened.Handle)), "the pusher keys on the mailbox's epoch");
            var restored = (await ArchiveCheck.RestoreAllAsync([rig.Sink], boxes)).Values.Single();
            var expected = before.Values.Single().Concat(after.Values.Single()).ToList();
            Assert.That(restored.Select(r => Convert.ToHexStringLower(r.BlobId.Span)), Is.EqualTo(expected.Select(e => Convert.ToHexStringLower(e.BlobId.Span))));
        }
    }

    [Test]
    public void Options_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArchivePusherOptions { TargetPackBytes = 10 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArchivePusherOptions { MaxPackAge = TimeSpan.Zero }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArchivePusherOptions { ReadBatchBlobs = 0 }.Validate());
    }
}
