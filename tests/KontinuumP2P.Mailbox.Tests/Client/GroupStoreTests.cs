using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Mailbox.Tests.Client;

/// <summary>The device's SQLite state: what survives a reopen, the outbox's bookkeeping, atomic page commits, bounds.</summary>
public sealed class GroupStoreTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 18, 0, 0, TimeSpan.Zero);
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Path.Combine(Path.GetTempPath(), "kp-groupstore-" + Guid.NewGuid().ToString("N"));

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private GroupStore Create(int requiredAcks = 1)
    {
        using var secret = GroupSecret.Generate();
        return GroupStore.Create(_dir, secret, "devnet", ["mbx-a", "mbx-b", "mbx-c"], requiredAcks);
    }

    [Test]
    public void KeysSlotsAndOutboxSurviveAReopen()
    {
        byte[] secret, device;
        SealedBlob blob;
        using (var store = Create(requiredAcks: 2))
        {
            secret = store.Current.Secret.Bytes.ToArray();
            device = store.DeviceSecret;
            blob = BlobCipher.Seal(store.Current.Keys.BlobKey, "hello"u8);
            store.Enqueue(blob, 1, store.Current.Slots, Now);
            store.MarkDelivered(blob.Id, 1, "mbx-a");
            store.MarkFailed(blob.Id, 1, "mbx-b", Now.AddSeconds(3), "connection refused");
        }
        using var reopened = GroupStore.Open(_dir);
        Assert.That(reopened.Current.Secret.Bytes.ToArray(), Is.EqualTo(secret));
        Assert.That(reopened.DeviceSecret, Is.EqualTo(device));
        Assert.That(reopened.Current.Slots, Is.EqualTo(new[] { "mbx-a", "mbx-b", "mbx-c" }));
        Assert.That(reopened.RequiredAcks, Is.EqualTo(2));
        Assert.That(reopened.Network, Is.EqualTo("devnet"));
        var rows = reopened.OutboxEntries();
        Assert.That(rows.Select(r => r.Slot), Is.EquivalentTo(new[] { "mbx-b", "mbx-c" }));
        var b = rows.Single(r => r.Slot == "mbx-b");
        Assert.That((b.Attempts, b.NextAttempt, b.LastError), Is.EqualTo((1, Now.AddSeconds(3), "connection refused")));
        Assert.That(reopened.DueEntries(Now, 10).Select(r => r.Slot), Is.EqualTo(new[] { "mbx-c" }), "b is not due before its backoff");
        Assert.That(reopened.DueEntries(Now.AddSeconds(3), 10), Has.Count.EqualTo(2));
        Assert.That(reopened.ReadBlob(blob.Id), Is.EqualTo(blob.Bytes));
        Assert.That(reopened.NextDue(), Is.EqualTo(Now));
    }

    [Test]
    public void BlobBytesGoOnceNoMailboxIsOwedThem()
    {
        using var store = Create();
        var blob = BlobCipher.Seal(store.Current.Keys.BlobKey, "x"u8);
        store.Enqueue(blob, 1, store.Current.Slots, Now);
        store.Enqueue(blob, 1, store.Current.Slots, Now); // idempotent
        Assert.That(store.OutboxCount(), Is.EqualTo(3));
        foreach (var slot in store.Current.Slots.SkipLast(1)) store.MarkDelivered(blob.Id, 1, slot);
        Assert.That(store.ReadBlob(blob.Id), Is.Not.Null);
        store.MarkDelivered(blob.Id, 1, "mbx-c");
        Assert.That(store.ReadBlob(blob.Id), Is.Null);
        Assert.That(store.OutboxCount(), Is.Zero);
        Assert.That(store.NextDue(), Is.Null);
    }

    [Test]
    public void PageCommitMovesCursorAndIdsTogetherPerMailbox()
    {
        using var store = Create();
        var ids = Enumerable.Range(0, 5).Select(i => BlobId.Of([(byte)i])).ToList();
        Assert.That(store.GetPosition(1, "mbx-a"), Is.EqualTo(default(MailboxPosition)));
        store.CommitPage(1, "mbx-a", new MailboxPosition(5, 77), ids, Now);
        store.CommitPage(1, "mbx-b", new MailboxPosition(2, 99), ids.Take(2).ToList(), Now);
        Assert.That(store.GetPosition(1, "mbx-a"), Is.EqualTo(new MailboxPosition(5, 77)));
        Assert.That(store.GetPosition(1, "mbx-b"), Is.EqualTo(new MailboxPosition(2, 99)), "cursor spaces never mix");
        Assert.That(ids.All(store.IsApplied), Is.True);
        Assert.That(store.IsApplied(BlobId.Of([9])), Is.False);
        Assert.That(store.AppliedCount, Is.EqualTo(5));
    }

    [Test]
    public void AppliedIdsAreBoundedAndTheOldestGoFirst()
    {
        // An attacker with the capability could push endless distinct blobs: the remembered set stays bounded.
        using var secret = GroupSecret.Generate();
        using var store = GroupStore.Create(_dir, secret, "devnet", ["a"], 1);
        store.MaxAppliedIds = 100;
        var ids = Enumerable.Range(0, 1000).Select(i => BlobId.Of(BitConverter.GetBytes(i))).ToList();
        for (var page = 0; page < 10; page++)
            store.CommitPage(1, "a", new MailboxPosition((ulong)(page + 1) * 100, 1), ids.Skip(page * 100).Take(100).ToList(), Now);
        Assert.That(store.AppliedCount, Is.EqualTo(100));
        Assert.That(store.IsApplied(ids[^1]), Is.True);
        Assert.That(store.IsApplied(ids[0]), Is.False);
    }

    [Test]
    public void RotationAddsAGenerationAndMovesTheOutbox()
    {
        using var store = Create();
        var blob = BlobCipher.Seal(store.Current.Keys.BlobKey, "before rotation"u8);
        store.Enqueue(blob, 1, ["mbx-a"], Now);
        using var next = GroupSecret.Generate();
        var generation = store.AddGeneration(next, ["mbx-a", "mbx-b", "mbx-c"]);
        Assert.That(generation.Number, Is.EqualTo(2));
        Assert.That(store.MoveOutboxToCurrent(Now), Is.EqualTo(1));
        Assert.That(store.OutboxEntries().Select(e => (e.Generation, e.Slot)), Is.EquivalentTo(new[] { (2, "mbx-a"), (2, "mbx-b"), (2, "mbx-c") }));
        Assert.That(store.Generations[1].SlotKeys["mbx-a"].MailboxId, Is.Not.EqualTo(store.Generations[0].SlotKeys["mbx-a"].MailboxId));
    }

    [Test]
    public void BadInputIsRefusedClearly()
    {
        using var secret = GroupSecret.Generate();
        Assert.That(() => GroupStore.Create(_dir, secret, "n", ["a", "a"], 1), Throws.ArgumentException.With.Message.Contains("differ"));
        Assert.That(() => GroupStore.Create(_dir, secret, "n", ["a", "b"], 3), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => GroupStore.Open(_dir), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("no group"));
        using (Create()) { }
        Assert.That(() => Create(), Throws.InstanceOf<IOException>().With.Message.Contains("already holds"));
        if (!OperatingSystem.IsWindows())
            Assert.That(File.GetUnixFileMode(Path.Combine(_dir, GroupStore.FileName)), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
    }
}

/// <summary>The outbox retry schedule.</summary>
public sealed class OutboxBackoffTests
{
    [TestCase(1, 0.0, 1.0)]
    [TestCase(2, 0.0, 2.0)]
    [TestCase(3, 0.0, 4.0)]
    [TestCase(5, 0.0, 16.0)]
    [TestCase(6, 0.0, 30.0)]
    [TestCase(100, 0.0, 30.0)]
    [TestCase(1, 0.5, 3.5)]
    [TestCase(100, 0.999999, 35.0)]
    public void DoublesFromOneSecondToThirtyPlusJitter(int failures, double jitter, double expectedSeconds) =>
        Assert.That(OutboxBackoff.Delay(failures, jitter).TotalSeconds, Is.EqualTo(expectedSeconds).Within(0.001));

    [Test]
    public void RefusesNonsense()
    {
        Assert.That(() => OutboxBackoff.Delay(0, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => OutboxBackoff.Delay(1, 1.0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
