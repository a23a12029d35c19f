using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Mailbox.Tests.Client;

/// <summary>
/// Rotated-out mailboxes a rotation could not reach are closed later by the health loop: persisted in group.db, retried
/// with backoff once the outbox drained, also after a restart; against 3 real mailbox servers (TCP, SQLite files).
/// </summary>
[NonParallelizable]
public sealed class GroupClosureRetryTests
{
    private readonly List<string> _dirs = [];

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var dir in _dirs.Where(Directory.Exists)) Directory.Delete(dir, recursive: true);
        _dirs.Clear();
    }

    private string NewDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "kp-gclose-" + Guid.NewGuid().ToString("N"));
        _dirs.Add(dir);
        return dir;
    }

    [Test]
    public async Task A_server_down_during_the_rotation_has_its_old_mailbox_closed_by_the_health_loop_after_a_restart()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var ct = timeout.Token;
        await using var fleet = await MailboxFleet.StartAsync(3);
        using var secret = GroupSecret.Generate();
        var dir = NewDirectory();
        var down = fleet.Servers[2];
        using (var store = GroupStore.Create(dir, secret, "test", fleet.Slots, 1))
        {
            await using var device = await fleet.DeviceAsync(store);
            for (var i = 0; i < 10; i++) await device.PushAsync(BitConverter.GetBytes(i), ct);
            Assert.That((await device.FlushAsync(all: true, ct)).Remaining, Is.Zero);

            await down.StopAsync();
            var rotation = await device.RotateAsync((_, _) => ValueTask.CompletedTask, TimeSpan.FromHours(1), ct);
            Assert.That(rotation.Owed, Is.GreaterThan(0), "the new mailbox on the stopped server still owes the history");
            Assert.That(rotation.Closed, Is.Empty, "nothing is closed while the outbox owes blobs");
            Assert.That(store.PendingClosures().Select(p => (p.Generation, p.Slot)), Is.EquivalentTo(fleet.Slots.Select(s => (1, s))));
        }
        Assert.That(fleet.Servers.Select(s => s.Server?.Store.Tombstones ?? 0), Is.All.Zero);

        // A restart: a new process opens the directory; the server comes back.
        await down.StartAsync();
        using var reopened = GroupStore.Open(dir);
        Assert.That(reopened.PendingClosures(), Has.Count.EqualTo(3), "the pending closures survived the restart");
        await using var client = await fleet.DeviceAsync(reopened);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var loop = client.StartHealthLoop(new GroupHealthOptions { Interval = TimeSpan.FromMilliseconds(250) });
        loop.MailboxesClosed += _ =>
        {
            if (reopened.PendingClosures().Count == 0) done.TrySetResult();
        };
        if (reopened.PendingClosures().Count == 0) done.TrySetResult();
        await done.Task.WaitAsync(ct);

        Assert.That(reopened.OutboxCount(), Is.Zero, "closing waited for the outbox to drain");
        Assert.That(loop.ClosedMailboxes, Is.EqualTo(3));
        Assert.That(fleet.Servers.Select(s => s.Server!.Store.Tombstones), Is.All.EqualTo(1), "each server closed and tombstoned its old mailbox");
    }

    [Test]
    public void Pending_closures_are_bounded_and_the_oldest_generations_go_first()
    {
        using var secret = GroupSecret.Generate();
        using var store = GroupStore.Create(NewDirectory(), secret, "test", ["a", "b", "c"], 1);
        var now = DateTimeOffset.UtcNow;
        var evicted = 0;
        for (var generation = 1; generation <= 200; generation++)
            evicted += store.AddPendingClosures([(generation, "a"), (generation, "b"), (generation, "c")], now);
        var pending = store.PendingClosures();
        Assert.That(pending, Has.Count.EqualTo(GroupStore.MaxPendingClosures));
        Assert.That(evicted, Is.EqualTo(600 - GroupStore.MaxPendingClosures));
        Assert.That(pending.Max(p => p.Generation), Is.EqualTo(200), "the newest are kept");
        Assert.That(pending.Min(p => p.Generation), Is.GreaterThan(200 - (GroupStore.MaxPendingClosures / 3) - 1));

        store.FailClosure(200, "a", now.AddSeconds(5), "down");
        Assert.That(store.AddPendingClosures([(200, "a")], now), Is.Zero);
        var row = store.PendingClosures().Single(p => p is { Generation: 200, Slot: "a" });
        Assert.That((row.Attempts, row.LastError), Is.EqualTo((1, "down")), "adding again keeps the backoff");
        store.CompleteClosure(200, "a");
        Assert.That(store.PendingClosures(), Has.Count.EqualTo(GroupStore.MaxPendingClosures - 1));
    }
}
