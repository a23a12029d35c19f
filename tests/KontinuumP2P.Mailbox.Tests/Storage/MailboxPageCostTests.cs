using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Mailbox.Tests.Storage;

/// <summary>
/// What a push costs in WAL bytes (the random pages a checkpoint rewrites set the fsync tail, docs/mailbox.md), the 8-byte
/// blob-id tag index behind dedup, and stores created before it (4 KiB pages, 32-byte id index) still opening.
/// </summary>
[TestFixture]
public sealed class MailboxPageCostTests : StoreDirectoryTest
{
    private FakeTimeProvider _time = null!;

    [SetUp]
    public void CreateClock() => _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));

    // The fake clock never fires the background checkpoint and the backstop is out of reach, so the WAL only grows.
    private MailboxStoreOptions Options(int? pageSize = null) => new MailboxStoreOptions
    {
        DatabasePath = Path.Combine(StoreDirectory, "m.db"), BackgroundCleanup = false, CheckpointBackstopPages = 1_000_000,
    } is var o && pageSize is { } size ? o with { PageSize = size } : o;

    private static Task<MailboxOpened> OpenAsync(MailboxStore store, Credentials c) =>
        store.OpenMailboxAsync(c.MailboxId, c.Capability, c.DeviceId, c.ArchiveKey, CancellationToken.None);

    // Groups of exactly perGroup pushes, whatever the machine's load: the writer waits at BeforeBatch until the
    // group's pushes are all queued, then takes them as one group (MaxBatchOperations is 256). Without the gate a
    // loaded machine split groups, and the per-group pages made a push cost more (4,800 B in one CI run).
    private static async Task PushGroupsAsync(MailboxStore store, MailboxHandle[] handles, int groups, int perGroup)
    {
        using var gate = new SemaphoreSlim(0);
        store.BeforeBatch = () => gate.WaitAsync();
        var committed = store.CommittedSequence;
        try
        {
            for (var g = 0; g < groups; g++)
            {
                var pushes = new Task<MailboxPushResult>[perGroup];
                for (var i = 0; i < perGroup; i++)
                {
                    var blob = Blobs.Make();
                    pushes[i] = store.PushAsync(handles[i % handles.Length], blob.Id, blob.Data, TimeSpan.Zero, CancellationToken.None);
                }
                gate.Release();
                await Task.WhenAll(pushes);
            }
        }
        finally
        {
            store.BeforeBatch = null;
            gate.Release();
        }
        Assert.That(store.CommittedSequence - committed, Is.EqualTo(groups), "one group per batch of pushes");
    }

    private static object? Query(string path, string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    /// <summary>WAL bytes per push over groups of 50 into 8 mailboxes once the index outgrew a group (as in the bench).</summary>
    private async Task<double> WalBytesPerPushAsync(int? pageSize)
    {
        var options = Options(pageSize);
        await using var store = await MailboxStore.OpenAsync(options, _time);
        var handles = new MailboxHandle[8];
        for (var i = 0; i < handles.Length; i++) handles[i] = (await OpenAsync(store, Credentials.Random())).Handle;
        await PushGroupsAsync(store, handles, groups: 100, perGroup: 50);
        var wal = options.DatabasePath + "-wal";
        var before = new FileInfo(wal).Length;
        await PushGroupsAsync(store, handles, groups: 40, perGroup: 50);
        Assert.That(store.BackgroundCheckpoints, Is.Zero, "a checkpoint would have restarted the WAL under the measurement");
        return (new FileInfo(wal).Length - before) / (40.0 * 50);
    }

    [Test]
    public async Task A_push_costs_at_most_4_KiB_of_WAL_with_1_KiB_pages_where_4_KiB_pages_cost_more_than_twice_that()
    {
        // 1 KiB blob, its share of blob-table pages, one random 1 KiB tag-index leaf; 4 KiB pages make that leaf 4 KiB.
        var small = await WalBytesPerPushAsync(null);
        SqliteConnection.ClearAllPools();
        File.Delete(Path.Combine(StoreDirectory, "m.db"));
        File.Delete(Path.Combine(StoreDirectory, "m.db-wal"));
        File.Delete(Path.Combine(StoreDirectory, "m.db-shm"));
        var large = await WalBytesPerPushAsync(4096);
        TestContext.Out.WriteLine($"WAL bytes per push: {small:N0} with 1 KiB pages, {large:N0} with 4 KiB pages");
        Assert.That(small, Is.LessThanOrEqualTo(4096));
        Assert.That(large, Is.GreaterThan(2 * small));
    }

    [Test]
    public async Task A_new_store_has_1_KiB_pages_and_dedups_through_the_tag_index_checking_the_full_id()
    {
        var options = Options();
        var credentials = Credentials.Random();
        var blob = Blobs.Make();
        long row;
        await using (var store = await MailboxStore.OpenAsync(options, _time))
        {
            Assert.That(store.PageSize, Is.EqualTo(1024));
            var handle = (await OpenAsync(store, credentials)).Handle;
            row = handle.Row;
            await store.PushAsync(handle, blob.Id, blob.Data, TimeSpan.Zero, CancellationToken.None);
        }
        // A row whose id shares the first 8 bytes of a blob not yet pushed (a tag collision) must not make that blob a duplicate.
        var other = Blobs.Make();
        var colliding = (byte[])other.Id.Clone();
        colliding[31] ^= 0xff;
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = options.DatabasePath, Pooling = false }.ToString()))
        {
            connection.Open();
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO blobs (k, blob_id, data, expires) VALUES ($k, $id, x'00', 0)";
            insert.Parameters.AddWithValue("$k", MailboxKeys.Key(row, 1_000_000));
            insert.Parameters.AddWithValue("$id", colliding);
            insert.ExecuteNonQuery();
        }
        await using (var store = await MailboxStore.OpenAsync(options, _time))
        {
            var handle = (await OpenAsync(store, credentials)).Handle;
            var fresh = await store.PushAsync(handle, other.Id, other.Data, TimeSpan.Zero, CancellationToken.None);
            Assert.That((fresh.Cursor, fresh.Duplicate), Is.EqualTo((2UL, false)));
            var again = await store.PushAsync(handle, blob.Id, blob.Data, TimeSpan.Zero, CancellationToken.None);
            Assert.That((again.Cursor, again.Duplicate), Is.EqualTo((1UL, true)));
            var otherAgain = await store.PushAsync(handle, other.Id, other.Data, TimeSpan.Zero, CancellationToken.None);
            Assert.That((otherAgain.Cursor, otherAgain.Duplicate), Is.EqualTo((2UL, true)));
        }
    }

    [Test]
    public async Task A_store_created_with_4_KiB_pages_and_the_32_byte_id_index_opens_keeps_its_pages_and_dedups_its_old_blobs()
    {
        var options = Options(4096);
        var credentials = Credentials.Random();
        var blobs = Enumerable.Range(0, 300).Select(_ => Blobs.Make()).ToArray();
        await using (var store = await MailboxStore.OpenAsync(options, _time))
        {
            var handle = (await OpenAsync(store, credentials)).Handle;
            foreach (var blob in blobs) await store.PushAsync(handle, blob.Id, blob.Data, TimeSpan.Zero, CancellationToken.None);
        }
        // The schema of a store created before this change: the 32-byte blob-id index instead of the tag index.
        SqliteConnection.ClearAllPools();
        Query(options.DatabasePath, "DROP INDEX blobs_by_tag");
        Query(options.DatabasePath, "CREATE INDEX blobs_by_id ON blobs (blob_id)");
        SqliteConnection.ClearAllPools();
        await using (var store = await MailboxStore.OpenAsync(Options(), _time))
        {
            Assert.That(store.PageSize, Is.EqualTo(4096), "an existing file keeps its page size");
            var handle = (await OpenAsync(store, credentials)).Handle;
            var duplicate = await store.PushAsync(handle, blobs[123].Id, blobs[123].Data, TimeSpan.Zero, CancellationToken.None);
            Assert.That((duplicate.Cursor, duplicate.Duplicate), Is.EqualTo((124UL, true)));
            var next = Blobs.Make();
            Assert.That((await store.PushAsync(handle, next.Id, next.Data, TimeSpan.Zero, CancellationToken.None)).Cursor, Is.EqualTo(301UL));
        }
        SqliteConnection.ClearAllPools();
        Assert.That(Query(options.DatabasePath, "SELECT group_concat(name) FROM sqlite_schema WHERE name LIKE 'blobs_by_%' ORDER BY name"),
            Is.EqualTo("blobs_by_expiry,blobs_by_tag").Or.EqualTo("blobs_by_tag,blobs_by_expiry"));
        Assert.That(Query(options.DatabasePath, "PRAGMA integrity_check"), Is.EqualTo("ok"));
    }
}
