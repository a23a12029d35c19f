using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Sinks;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Archive.Tests.Pushing;

/// <summary>
/// The pusher builds pack N+1 while pack N is stored. The look-ahead pack must not be planned, and so must not reach a
/// sink, before pack N has advanced: a failure while N is stored leaves N planned and N+1 unknown.
/// </summary>
public sealed class PusherLookAheadTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-lookahead-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    // A dir: sink that refuses the Nth pack put while armed (as a full disk would), and counts pack puts.
    private sealed class FailingSink(DirectorySink inner, int failOnPack) : IArchiveSink
    {
        public int PackPuts;
        public bool Armed = true;

        public string Name => "failing:" + inner.Name;

        public ValueTask PutAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            if (id.Kind == ArchiveObjectKind.Pack && Interlocked.Increment(ref PackPuts) == failOnPack && Armed)
                throw new IOException("no space left on device (test)");
            return inner.PutAsync(id, data, cancellationToken);
        }

        public ValueTask ReplaceAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => inner.ReplaceAsync(id, data, cancellationToken);

        public ValueTask<byte[]?> GetAsync(ArchiveObjectId id, long maxBytes, CancellationToken cancellationToken) => inner.GetAsync(id, maxBytes, cancellationToken);

        public ValueTask<bool> ExistsAsync(ArchiveObjectId id, CancellationToken cancellationToken) => inner.ExistsAsync(id, cancellationToken);

        public IAsyncEnumerable<ArchiveObjectId> ListAsync(ArchiveObjectKind kind, CancellationToken cancellationToken) => inner.ListAsync(kind, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Test]
    public async Task A_flush_over_many_full_packs_archives_every_blob_once_in_order()
    {
        var random = new Random(21);
        await using var store = await ReplicaStore.OpenAsync(Path.Combine(_dir, "store.db"));
        var boxes = ReplicaStore.MakeBoxes(random, 2);
        var pushed = await ReplicaStore.PushAsync(store, boxes, random, 150, 500, 3000);
        using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
        await using var sink = new DirectorySink(Path.Combine(_dir, "sink"));
        using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store), [sink], state,
            new ArchivePusherOptions { TargetPackBytes = 32 * 1024 }, new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000)));

        var written = await pusher.RunOnceAsync(flush: true, CancellationToken.None);

        Assert.That(written, Is.GreaterThanOrEqualTo(2 * 6), "several packs per mailbox, so most were built ahead");
        foreach (var box in boxes)
        {
            var packs = state.Packs().Where(p => p.MailboxId.AsSpan().SequenceEqual(box.MailboxId)).OrderBy(p => p.Sequence).ToList();
            Assert.That(packs.Select(p => p.Sequence), Is.EqualTo(Enumerable.Range(0, packs.Count).Select(i => (ulong)i)));
            for (var i = 1; i < packs.Count; i++) Assert.That(packs[i].FirstCursor, Is.EqualTo(packs[i - 1].LastCursor + 1), "contiguous, no gap or overlap");
            var s = state.Get(box.MailboxId)!;
            Assert.That(s.ArchivedUpTo, Is.EqualTo(150UL));
            Assert.That(s.PlannedUpTo, Is.Null);
        }
        ArchiveCheck.AssertExactlyOnce(pushed, await ArchiveCheck.RestoreAllAsync([sink], boxes));
        await ArchiveCheck.AssertNoOrphanOrDuplicatePacksAsync(sink, boxes);
    }

    [Test]
    public async Task A_sink_failing_under_pack_N_leaves_N_planned_and_the_pack_built_ahead_unrecorded()
    {
        var random = new Random(22);
        await using var store = await ReplicaStore.OpenAsync(Path.Combine(_dir, "store.db"));
        var boxes = ReplicaStore.MakeBoxes(random, 1);
        var pushed = await ReplicaStore.PushAsync(store, boxes, random, 200, 500, 3000);
        using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
        await using var inner = new DirectorySink(Path.Combine(_dir, "sink"));
        var sink = new FailingSink(inner, failOnPack: 3);
        using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store), [sink], state,
            new ArchivePusherOptions { TargetPackBytes = 32 * 1024 }, new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000)));
        var failures = new List<Exception>();
        pusher.MailboxFailed += (_, e) => failures.Add(e);

        // A failed mailbox counts for nothing in the round's total; what it committed before failing stays.
        Assert.That(await pusher.RunOnceAsync(flush: true, CancellationToken.None), Is.Zero);

        Assert.That(failures, Has.Count.EqualTo(1));
        Assert.That(failures[0], Is.InstanceOf<IOException>());
        var packs = state.Packs();
        Assert.That(packs, Has.Count.EqualTo(2));
        var s = state.Get(boxes[0].MailboxId)!;
        Assert.That(s.ArchivedUpTo, Is.EqualTo(packs[1].LastCursor));
        // Pack 3 was planned before its put; the pack built behind it was never planned, and never reached the sink.
        Assert.That(s.PlannedUpTo, Is.GreaterThan(s.ArchivedUpTo).And.LessThan(200UL));
        Assert.That(sink.PackPuts, Is.EqualTo(3));
        var held = new List<ArchiveObjectId>();
        await foreach (var id in inner.ListAsync(ArchiveObjectKind.Pack, CancellationToken.None)) held.Add(id);
        Assert.That(held, Has.Count.EqualTo(2));

        sink.Armed = false;
        var planned = s.PlannedUpTo;
        var archived = new List<ArchivedPack>();
        pusher.PackArchived += archived.Add;
        Assert.That(await pusher.RunOnceAsync(flush: true, CancellationToken.None), Is.GreaterThan(1));
        Assert.That(archived[0].FirstCursor, Is.EqualTo(packs[1].LastCursor + 1));
        Assert.That(archived[0].LastCursor, Is.EqualTo(planned), "the planned range is rebuilt exactly");
        Assert.That(state.Get(boxes[0].MailboxId)!.ArchivedUpTo, Is.EqualTo(200UL));
        ArchiveCheck.AssertExactlyOnce(pushed, await ArchiveCheck.RestoreAllAsync([inner], boxes));
        await ArchiveCheck.AssertNoOrphanOrDuplicatePacksAsync(inner, boxes);
    }
}
