using System.Collections.Concurrent;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Tests.Client;

/// <summary>
/// Rotation that completes and device removal through the group client, against 3 real mailbox servers (TCP on
/// 127.0.0.1, SQLite files).
/// </summary>
[NonParallelizable]
public sealed class GroupRotationTests
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

    private GroupStore NewStore(MailboxFleet fleet, GroupSecret secret, IReadOnlyList<string>? slots = null, int requiredAcks = 1)
    {
        var dir = Path.Combine(Path.GetTempPath(), "kp-grot-" + Guid.NewGuid().ToString("N"));
        _dirs.Add(dir);
        var store = GroupStore.Create(dir, secret, "test", slots ?? fleet.Slots, requiredAcks);
        _stores.Add(store);
        return store;
    }

    /// <summary>Joins from the invite's text with a new directory, as <c>group join</c> does.</summary>
    private GroupStore JoinNew(MailboxFleet fleet, Invite invite, int requiredAcks = 1)
    {
        var parsed = Invite.Parse(invite.Encode(), DateTimeOffset.UtcNow);
        using var secret = parsed.OpenSecret();
        var store = NewStore(fleet, secret, parsed.Slots, requiredAcks);
        if (parsed.HistoryKeys is { Count: > 0 } history) store.ImportReadKeys(history);
        return store;
    }

    private static CancellationToken Timeout(int seconds = 90) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    private static BlobHandler Collect(ConcurrentDictionary<BlobId, byte[]> into) => (blob, _) =>
    {
        Assert.That(into.TryAdd(blob.Id, blob.Plaintext.ToArray()), Is.True, $"{blob.Id} applied twice");
        return ValueTask.CompletedTask;
    };

    private static bool RefusedWith(string? error, MailboxErrorCode code) => error is not null && error.Contains(code.ToString(), StringComparison.OrdinalIgnoreCase);

    [Test]
    public async Task Rotation_closes_the_old_mailboxes_and_a_new_directory_joiner_applies_the_whole_history_once()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(3);
        using var first = GroupSecret.Generate();
        var storeA = NewStore(fleet, first, requiredAcks: 3);
        var stolen = JoinNew(fleet, GroupClient.CreateInvite(storeA, TimeSpan.FromHours(1), TimeProvider.System));
        await using var a = await fleet.DeviceAsync(storeA);
        var before = new List<BlobId>();
        for (var i = 0; i < 25; i++) before.Add((await a.PushAsync(BitConverter.GetBytes(i), ct)).Id);

        // Two rotations: the second invite must carry both earlier read keys.
        var rotation1 = await a.RotateAsync((_, _) => ValueTask.CompletedTask, TimeSpan.FromHours(1), ct);
        Assert.That(rotation1.Owed, Is.Zero);
        Assert.That(rotation1.Closed.Select(c => (c.Generation, c.Closed)), Is.EquivalentTo(fleet.Slots.Select(_ => (1, true))));
        var middle = (await a.PushAsync("between rotations"u8.ToArray(), ct)).Id;
        var rotation2 = await a.RotateAsync((_, _) => ValueTask.CompletedTask, TimeSpan.FromHours(1), ct);
        Assert.That(rotation2.Generation, Is.EqualTo(3));
        Assert.That(rotation2.Closed.Where(c => c.Generation == 2 && c.Closed).Count(), Is.EqualTo(3));
        Assert.That(rotation2.Invite.HistoryKeys, Has.Count.EqualTo(2));
        var after = (await a.PushAsync("after rotation"u8.ToArray(), ct)).Id;

        // The stolen device's old capability opens nothing any more: the old mailboxes are closed and tombstoned.
        await using (var thief = await fleet.DeviceAsync(stolen))
        {
            var got = new ConcurrentDictionary<BlobId, byte[]>();
            var pull = await thief.PullAsync(Collect(got), ack: true, ct);
            Assert.That(pull.Unreachable, Has.Count.EqualTo(3));
            Assert.That(got, Is.Empty);
            var status = await thief.StatusAsync(probe: true, ct);
            Assert.That(status.Select(s => RefusedWith(s.Error, MailboxErrorCode.MailboxClosed)), Is.All.True, string.Join("; ", status.Select(s => s.Error)));
        }
        foreach (var member in fleet.Servers)
        {
            await member.Server!.Store.RunCleanupAsync(ct);
            Assert.That(member.Server.Store.Statistics.Mailboxes, Is.EqualTo(1), "only the current generation's mailbox is left");
            Assert.That(member.Server.Store.Tombstones, Is.EqualTo(2));
        }

        // A device joining with a NEW directory reads everything, each blob once, nothing rejected.
        var storeC = JoinNew(fleet, rotation2.Invite);
        await using var c = await fleet.DeviceAsync(storeC);
        var received = new ConcurrentDictionary<BlobId, byte[]>();
        var first1 = await c.PullAsync(Collect(received), ack: true, ct);
        Assert.That(first1.Rejected, Is.Zero);
        Assert.That(received.Keys, Is.EquivalentTo(before.Append(middle).Append(after)));
        Assert.That(received[before[7]], Is.EqualTo(BitConverter.GetBytes(7)));
        var again = await c.PullAsync(Collect(received), ack: true, ct);
        Assert.That(again.Applied, Is.Zero);
    }

    [Test]
    public async Task A_removed_device_is_refused_and_no_longer_holds_back_replica_retention()
    {
        var ct = Timeout();
        await using var fleet = await MailboxFleet.StartAsync(3, configure: o => o with { Store = o.Store with { Role = MailboxRole.Replica } });
        using var secret = GroupSecret.Generate();
        var storeA = NewStore(fleet, secret, requiredAcks: 3);
        var stolen = JoinNew(fleet, GroupClient.CreateInvite(storeA, TimeSpan.FromHours(1), TimeProvider.System));
        await using var a = await fleet.DeviceAsync(storeA);
        await using var thief = await fleet.DeviceAsync(stolen);
        await thief.PullAsync((_, _) => ValueTask.CompletedTask, ack: true, ct); // registers the device everywhere
        for (var i = 0; i < 10; i++) await a.PushAsync(BitConverter.GetBytes(i), ct);
        await a.PullAsync((_, _) => ValueTask.CompletedTask, ack: true, ct);
        foreach (var member in fleet.Servers)
        {
            await member.Server!.Store.RunCleanupAsync(ct);
            Assert.That(member.Server.Store.Statistics.Blobs, Is.EqualTo(10), "the thief has acked nothing");
        }

        var reference = DeviceReference.Parse(thief.Device.ToString());
        var removed = await a.RemoveDeviceAsync(reference, ct);
        Assert.That(removed.Select(r => (r.Removed, r.Devices, r.Error)), Is.All.EqualTo((true, 1, (string?)null)));
        Assert.That((await a.RemoveDeviceAsync(reference, ct)).Select(r => r.Removed), Is.All.False, "idempotent");
        foreach (var member in fleet.Servers)
        {
            await member.Server!.Store.RunCleanupAsync(ct);
            Assert.That(member.Server.Store.Statistics.Blobs, Is.Zero, "acked by every device that still counts");
        }
        var pushed = await a.PushAsync("after removal"u8.ToArray(), ct);
        var got = new ConcurrentDictionary<BlobId, byte[]>();
        var pull = await thief.PullAsync(Collect(got), ack: true, ct);
        Assert.That(got.Keys, Does.Not.Contain(pushed.Id));
        Assert.That(pull.Unreachable, Has.Count.EqualTo(3));
    }
}
