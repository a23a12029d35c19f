using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Mailbox.Tests.Storage;

/// <summary>Device removal, mailbox close and tombstones in the store (real SQLite files, fake clock).</summary>
[TestFixture]
public sealed class MailboxRemovalStoreTests
{
    private string _directory = null!;
    private FakeTimeProvider _time = null!;

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "kp-mbxr-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
    }

    [TearDown]
    public void TearDown()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, true);
    }

    private MailboxStoreOptions Options() => new() { DatabasePath = Path.Combine(_directory, "m.db"), BackgroundCleanup = false };

    private Task<MailboxStore> OpenAsync(MailboxStoreOptions options) => MailboxStore.OpenAsync(options, _time);

    private static async Task<MailboxHandle> OpenAsync(MailboxStore store, Credentials c) =>
        (await store.OpenMailboxAsync(c.MailboxId, c.Capability, c.DeviceId, c.ArchiveKey, CancellationToken.None)).Handle;

    private static async Task<MailboxErrorCode> RefusalAsync(Func<Task> action)
    {
        var e = Assert.ThrowsAsync<MailboxException>(async () => await action());
        return e!.Code;
    }

    [Test]
    public async Task A_removed_device_no_longer_blocks_all_ack_deletion_and_is_refused_even_after_a_restart()
    {
        var phone = Credentials.Random();
        var stolen = phone.OtherDevice();
        await using (var store = await OpenAsync(Options() with { Role = MailboxRole.Replica }))
        {
            var a = await OpenAsync(store, phone);
            var thief = await OpenAsync(store, stolen);
            for (var i = 0; i < 20; i++)
            {
                var blob = Blobs.Make();
                await store.PushAsync(a, blob.Id, blob.Data, default, CancellationToken.None);
            }
            await store.AckAsync(a, 20, CancellationToken.None);
            await store.RunCleanupAsync(CancellationToken.None);
            Assert.That(store.Statistics.Blobs, Is.EqualTo(20), "the stolen device has acked nothing");

            var removal = await store.RemoveDeviceAsync(a, stolen.DeviceId, CancellationToken.None);
            Assert.That(removal, Is.EqualTo(new MailboxDeviceRemoval(true, 1)));
            Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.EqualTo(20), "the removed device no longer holds retention back");
            Assert.That(await store.RemoveDeviceAsync(a, stolen.DeviceId, CancellationToken.None), Is.EqualTo(new MailboxDeviceRemoval(false, 1)), "idempotent");
            Assert.That(await RefusalAsync(() => store.AckAsync(thief, 1, CancellationToken.None)), Is.EqualTo(MailboxErrorCode.DeviceRemoved));
            Assert.That(await RefusalAsync(() => store.RemoveDeviceAsync(a, phone.DeviceId, CancellationToken.None)), Is.EqualTo(MailboxErrorCode.Unauthorized),
                "a device cannot remove itself");
        }
        await using var again = await OpenAsync(Options() with { Role = MailboxRole.Replica });
        Assert.That(await RefusalAsync(() => OpenAsync(again, stolen)), Is.EqualTo(MailboxErrorCode.DeviceRemoved), "the removal is durable");
        Assert.That(await OpenAsync(again, phone), Is.Not.Null);
    }

    [Test]
    public async Task Removed_devices_per_mailbox_are_bounded_and_refused_distinctly_beyond_the_bound()
    {
        await using var store = await OpenAsync(Options() with { MaxRemovedDevicesPerMailbox = 3 });
        var owner = Credentials.Random();
        var handle = await OpenAsync(store, owner);
        for (var i = 0; i < 3; i++) await store.RemoveDeviceAsync(handle, owner.OtherDevice().DeviceId, CancellationToken.None);
        var extra = owner.OtherDevice();
        Assert.That(await RefusalAsync(() => store.RemoveDeviceAsync(handle, extra.DeviceId, CancellationToken.None)), Is.EqualTo(MailboxErrorCode.MailboxQuota));
        Assert.That(await OpenAsync(store, extra), Is.Not.Null, "the refused removal stored nothing");
    }

    [Test]
    public async Task A_closed_mailbox_refuses_its_old_capability_until_the_tombstone_expires()
    {
        var options = Options() with { TombstoneLifetime = TimeSpan.FromDays(10) };
        var owner = Credentials.Random();
        var other = owner.OtherDevice();
        await using var store = await OpenAsync(options);
        var handle = await OpenAsync(store, owner);
        var otherHandle = await OpenAsync(store, other);
        for (var i = 0; i < 5; i++)
        {
            var blob = Blobs.Make();
            await store.PushAsync(handle, blob.Id, blob.Data, default, CancellationToken.None);
        }
        Assert.That(await store.CloseMailboxAsync(handle, CancellationToken.None), Is.EqualTo(5));
        Assert.That(store.Statistics.Mailboxes, Is.Zero);
        Assert.That(await RefusalAsync(() => store.ReadAfterAsync(otherHandle, 0, 10, 1 << 20, CancellationToken.None)), Is.EqualTo(MailboxErrorCode.NotOpen),
            "an open handle reads nothing once closed");
        Assert.That(await RefusalAsync(() => OpenAsync(store, owner)), Is.EqualTo(MailboxErrorCode.MailboxClosed), "the old capability cannot re-create it");
        await store.RunCleanupAsync(CancellationToken.None);
        Assert.That(store.Statistics.Blobs, Is.Zero, "its blobs are deleted");
        Assert.That(store.Tombstones, Is.EqualTo(1));

        _time.Advance(TimeSpan.FromDays(11));
        await store.RunCleanupAsync(CancellationToken.None);
        Assert.That(store.Tombstones, Is.Zero, "expired tombstones are deleted");
        Assert.That(await OpenAsync(store, owner), Is.Not.Null, "after the tombstone the id is an ordinary (empty) mailbox again");
    }

    [Test]
    public async Task Many_closes_keep_the_tombstone_set_at_its_bound_evicting_the_oldest()
    {
        // Attack: a client creating and closing mailboxes as fast as it can.
        await using var store = await OpenAsync(Options() with { MaxTombstones = 50 });
        var first = Credentials.Random();
        var credentials = new List<Credentials> { first };
        await store.CloseMailboxAsync(await OpenAsync(store, first), CancellationToken.None);
        for (var i = 0; i < 300; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            var c = Credentials.Random();
            credentials.Add(c);
            await store.CloseMailboxAsync(await OpenAsync(store, c), CancellationToken.None);
            Assert.That(store.Tombstones, Is.LessThanOrEqualTo(50));
        }
        Assert.That(store.Tombstones, Is.EqualTo(50));
        Assert.That(store.CountTombstones(), Is.EqualTo(50), "the counter matches the table");
        Assert.That(await RefusalAsync(() => OpenAsync(store, credentials[^1])), Is.EqualTo(MailboxErrorCode.MailboxClosed), "the newest are kept");
        Assert.That(await OpenAsync(store, first), Is.Not.Null, "the oldest was evicted");
        Assert.That(store.Statistics.Mailboxes, Is.EqualTo(1));
    }
}
