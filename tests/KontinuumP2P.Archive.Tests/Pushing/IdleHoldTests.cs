using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Archive.Tests.Pushing;

/// <summary>Idle expiry deletes a whole mailbox; on a held replica it must wait until the pusher archived every blob.</summary>
public sealed class IdleHoldTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-idlehold-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task Idle_mailboxes_with_unarchived_blobs_survive_expiry_until_the_pusher_caught_up()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        var random = new Random(45);
        // More held mailboxes than one idle step looks at (16), so the unheld one sorts behind a full page of held ones.
        var held = ReplicaStore.MakeBoxes(random, 20);
        var free = ReplicaStore.MakeBoxes(random, 1)[0];
        var heldIds = held.Select(b => Convert.ToHexString(b.MailboxId)).ToHashSet();
        await using var store = await MailboxStore.OpenAsync(new MailboxStoreOptions
        {
            DatabasePath = Path.Combine(_dir, "store.db"), Role = MailboxRole.Replica, BackgroundCleanup = false,
            IdleExpiry = TimeSpan.FromDays(1), ArchiveHold = id => heldIds.Contains(Convert.ToHexString(id)),
        }, time);
        var pushed = await ReplicaStore.PushAsync(store, held, random, 5, 100, 300);
        time.Advance(TimeSpan.FromMinutes(1));
        await ReplicaStore.PushAsync(store, [free], random, 5, 100, 300);
        time.Advance(TimeSpan.FromDays(2));

        var (_, expired) = await store.RunCleanupAsync(CancellationToken.None);
        Assert.That(expired, Is.EqualTo(1), "only the unheld mailbox expires");
        var left = await ReplicaStore.ReadAllAsync(store);
        Assert.That(left.Keys, Is.EquivalentTo(held.Select(b => Convert.ToHexStringLower(b.MailboxId))));
        Assert.That(left.Values.Sum(l => l.Count), Is.EqualTo(100), "every unarchived blob is still held");

        using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
        await using var sink = new DirectorySink(Path.Combine(_dir, "sink"));
        using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store), [sink], state, new ArchivePusherOptions(), time);
        // Archive all but the last mailbox's final blob: a partly archived mailbox is still held.
        var last = Convert.ToHexStringLower(held[^1].MailboxId);
        Assert.That(await pusher.RunOnceAsync(flush: true, CancellationToken.None), Is.EqualTo(20));
        var lastEpoch = (await store.ListArchivedMailboxesAsync(CancellationToken.None)).Single(m => Convert.ToHexStringLower(m.MailboxId.Span) == last).Epoch;
        Assert.That(await store.SetArchivedUpToAsync(held[^1].MailboxId, lastEpoch, pushed[last][^2].Cursor, CancellationToken.None),
            Is.EqualTo(pushed[last][^2].Cursor));

        (_, expired) = await store.RunCleanupAsync(CancellationToken.None);
        Assert.That(expired, Is.EqualTo(19), "every fully archived idle mailbox expires");
        left = await ReplicaStore.ReadAllAsync(store);
        Assert.That(left.Keys, Is.EqualTo(new[] { last }), "the one with an unarchived blob stays");

        await store.SetArchivedUpToAsync(held[^1].MailboxId, lastEpoch, pushed[last][^1].Cursor, CancellationToken.None);
        (_, expired) = await store.RunCleanupAsync(CancellationToken.None);
        Assert.That(expired, Is.EqualTo(1));
        Assert.That(await ReplicaStore.ReadAllAsync(store), Is.Empty);

        // Nothing was lost: the archive holds every blob of every expired held mailbox.
        var restored = await ArchiveCheck.RestoreAllAsync([sink], held);
        ArchiveCheck.AssertExactlyOnce(pushed, restored);
    }
}
