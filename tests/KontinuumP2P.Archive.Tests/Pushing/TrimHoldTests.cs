using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Archive.Tests.Pushing;

/// <summary>A replica must not trim an acknowledged blob before the pusher has it in a verified pack.</summary>
public sealed class TrimHoldTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-hold-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private Task<MailboxStore> OpenStoreAsync(Func<byte[], bool>? hold) =>
        MailboxStore.OpenAsync(new MailboxStoreOptions
        {
            DatabasePath = Path.Combine(_dir, "store.db"), Role = MailboxRole.Replica, BackgroundCleanup = false, ArchiveHold = hold,
        });

    private static async Task AckAllAsync(MailboxStore store, ReplicaStore.Box box)
    {
        var opened = await store.OpenMailboxAsync(box.MailboxId, box.Capability, box.DeviceId, box.ArchiveKey, CancellationToken.None);
        await store.AckAsync(opened.Handle, opened.MaxCursor, CancellationToken.None);
    }

    private static async Task<List<ulong>> CursorsAsync(MailboxStore store, ReplicaStore.Box box) =>
        (await ReplicaStore.ReadAllAsync(store)).GetValueOrDefault(Convert.ToHexStringLower(box.MailboxId))?.Select(b => b.Cursor).ToList() ?? [];

    [Test]
    public async Task Acked_blobs_stay_until_archived_then_trim_exactly_to_archived_up_to()
    {
        await using var store = await OpenStoreAsync(_ => true);
        var random = new Random(41);
        var box = ReplicaStore.MakeBoxes(random, 1)[0];
        await ReplicaStore.PushAsync(store, [box], random, 100, 1000, 1000);
        await AckAllAsync(store, box);

        Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.Zero, "acked by every device but not archived");
        Assert.That(await CursorsAsync(store, box), Has.Count.EqualTo(100));

        using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
        await using var sink = new DirectorySink(Path.Combine(_dir, "sink"));
        using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store), [sink], state,
            new ArchivePusherOptions { TargetPackBytes = 64 * 1024 }, TimeProvider.System);
        // Not flushed: one full pack, the tail waits for its age.
        Assert.That(await pusher.RunOnceAsync(flush: false, CancellationToken.None), Is.EqualTo(1));
        var archived = state.Get(box.MailboxId)!.ArchivedUpTo;
        Assert.That(archived, Is.InRange(50UL, 70UL));

        Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.EqualTo((long)archived));
        var left = await CursorsAsync(store, box);
        Assert.That(left[0], Is.EqualTo(archived + 1), "trimmed exactly up to archived_up_to");
        Assert.That(left, Has.Count.EqualTo(100 - (int)archived));

        Assert.That(await pusher.RunOnceAsync(flush: true, CancellationToken.None), Is.EqualTo(1));
        Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.EqualTo(100 - (long)archived));
        Assert.That(await CursorsAsync(store, box), Is.Empty, "every blob archived and acked is gone");
    }

    [Test]
    public async Task Archived_but_unacked_blobs_stay()
    {
        await using var store = await OpenStoreAsync(_ => true);
        var random = new Random(42);
        var box = ReplicaStore.MakeBoxes(random, 1)[0];
        await ReplicaStore.PushAsync(store, [box], random, 20, 500, 500);
        var opened = await store.OpenMailboxAsync(box.MailboxId, box.Capability, box.DeviceId, box.ArchiveKey, CancellationToken.None);
        await store.AckAsync(opened.Handle, 5, CancellationToken.None);
        Assert.That(await store.SetArchivedUpToAsync(box.MailboxId, store.EpochOf(opened.Handle), 20, CancellationToken.None), Is.EqualTo(20UL));
        Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.EqualTo(5));
        Assert.That((await CursorsAsync(store, box))[0], Is.EqualTo(6UL));
    }

    [Test]
    public async Task Without_a_hold_acked_blobs_go_at_once_and_an_unselected_mailbox_is_not_held()
    {
        var random = new Random(43);
        var boxes = ReplicaStore.MakeBoxes(random, 2);
        var held = Convert.ToHexString(boxes[0].MailboxId);
        await using var store = await OpenStoreAsync(id => Convert.ToHexString(id) == held);
        await ReplicaStore.PushAsync(store, boxes, random, 30, 200, 200);
        foreach (var box in boxes) await AckAllAsync(store, box);
        Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.EqualTo(30), "only the unselected mailbox trims");
        Assert.That(await CursorsAsync(store, boxes[0]), Has.Count.EqualTo(30));
        Assert.That(await CursorsAsync(store, boxes[1]), Is.Empty);
    }

    [Test]
    public async Task After_a_restart_nothing_trims_until_the_pusher_reports_again_and_a_stale_epoch_or_overlong_watermark_releases_nothing()
    {
        var random = new Random(44);
        var box = ReplicaStore.MakeBoxes(random, 1)[0];
        ulong epoch;
        await using (var store = await OpenStoreAsync(_ => true))
        {
            await ReplicaStore.PushAsync(store, [box], random, 40, 200, 200);
            await AckAllAsync(store, box);
            epoch = store.EpochOf((await store.OpenMailboxAsync(box.MailboxId, box.Capability, box.DeviceId, box.ArchiveKey, CancellationToken.None)).Handle);
            Assert.That(await store.SetArchivedUpToAsync(box.MailboxId, epoch, 10, CancellationToken.None), Is.EqualTo(10UL));
            Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.EqualTo(10));
        }
        await using (var store = await OpenStoreAsync(_ => true))
        {
            await AckAllAsync(store, box);
            Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.Zero, "the watermark is not remembered across a restart");
            Assert.That(await store.SetArchivedUpToAsync(box.MailboxId, epoch + 1, 40, CancellationToken.None), Is.Zero, "another epoch");
            Assert.That(await store.SetArchivedUpToAsync(new byte[32], epoch, 40, CancellationToken.None), Is.Zero, "unknown mailbox");
            Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.Zero);
            Assert.That(await store.SetArchivedUpToAsync(box.MailboxId, epoch, 1000, CancellationToken.None), Is.EqualTo(40UL), "clamped to the end");
            Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.EqualTo(30));
        }
    }
}
