using System.Text;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Mailbox.Tests.Storage;

/// <summary>The store on real SQLite files with a fake clock: epochs, retention, the archive tail and privacy.</summary>
[TestFixture]
public sealed class MailboxStoreTests
{
    private string _directory = null!;
    private FakeTimeProvider _time = null!;

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "kp-mbxs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
    }

    [TearDown]
    public void TearDown()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, true);
    }

    private MailboxStoreOptions Options(string name = "m.db") => new() { DatabasePath = Path.Combine(_directory, name), BackgroundCleanup = false };

    private Task<MailboxStore> OpenAsync(MailboxStoreOptions options) => MailboxStore.OpenAsync(options, _time);

    private static Task<MailboxOpened> OpenAsync(MailboxStore store, Credentials c) =>
        store.OpenMailboxAsync(c.MailboxId, c.Capability, c.DeviceId, c.ArchiveKey, CancellationToken.None);

    private static async Task<ulong> PushAsync(MailboxStore store, MailboxHandle handle, (byte[] Data, byte[] Id) blob, TimeSpan ttl = default) =>
        (await store.PushAsync(handle, blob.Id, blob.Data, ttl, CancellationToken.None)).Cursor;

    [Test]
    public async Task Reopening_keeps_the_epoch_and_the_data_and_a_new_file_has_a_new_epoch()
    {
        var credentials = Credentials.Random();
        ulong epoch;
        await using (var store = await OpenAsync(Options()))
        {
            epoch = store.Epoch;
            var opened = await OpenAsync(store, credentials);
            for (var i = 0; i < 3; i++) await PushAsync(store, opened.Handle, Blobs.Make());
        }
        await using (var again = await OpenAsync(Options()))
        {
            Assert.That(again.Epoch, Is.EqualTo(epoch));
            Assert.That(again.Statistics, Is.EqualTo(again.Statistics with { Mailboxes = 1, Blobs = 3, Bytes = 3072 }));
            var opened = await OpenAsync(again, credentials);
            Assert.That(opened.MaxCursor, Is.EqualTo(3));
            Assert.That(await PushAsync(again, opened.Handle, Blobs.Make()), Is.EqualTo(4));
        }
        await using var fresh = await OpenAsync(Options("reset.db"));
        Assert.That(fresh.Epoch, Is.Not.EqualTo(epoch).And.Not.Zero);
    }

    [Test]
    public async Task Replica_deletes_a_blob_only_once_every_registered_device_acked_it()
    {
        await using var store = await OpenAsync(Options() with { Role = MailboxRole.Replica, CleanupBatchRows = 7 });
        var phone = Credentials.Random();
        var laptop = phone.OtherDevice();
        var a = (await OpenAsync(store, phone)).Handle;
        var b = (await OpenAsync(store, laptop)).Handle;
        for (var i = 0; i < 30; i++) await PushAsync(store, a, Blobs.Make(), TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromDays(30));
        Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.Zero, "replicas ignore TTLs");

        await store.AckAsync(a, 20, CancellationToken.None);
        await store.RunCleanupAsync(CancellationToken.None);
        Assert.That(store.Statistics.Blobs, Is.EqualTo(30), "the laptop has acked nothing");

        await store.AckAsync(b, 25, CancellationToken.None);
        var (deleted, _) = await store.RunCleanupAsync(CancellationToken.None);
        Assert.That(deleted, Is.EqualTo(20));
        Assert.That(store.Statistics, Is.EqualTo(store.Statistics with { Blobs = 10, Bytes = 10 * 1024 }));
        var page = await store.ReadAfterAsync(b, 0, 100, 1 << 20, CancellationToken.None);
        Assert.That(page.Blobs.Select(x => x.Cursor), Is.EqualTo(Enumerable.Range(21, 10).Select(i => (ulong)i)));
        Assert.That(page.MaxCursor, Is.EqualTo(30));
        // Cursors continue after deletions.
        Assert.That(await PushAsync(store, a, Blobs.Make()), Is.EqualTo(31));
    }

    [Test]
    public async Task The_background_cleanup_is_woken_by_an_ack_that_frees_blobs_and_stops_with_the_store()
    {
        // Real clock and a long interval: only the ack's wake-up can explain the deletion.
        var store = await MailboxStore.OpenAsync(Options() with { Role = MailboxRole.Replica, BackgroundCleanup = true, CleanupInterval = TimeSpan.FromHours(1) });
        try
        {
            var handle = (await OpenAsync(store, Credentials.Random())).Handle;
            for (var i = 0; i < 50; i++) await PushAsync(store, handle, Blobs.Make(100));
            await store.AckAsync(handle, 40, CancellationToken.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (store.Statistics.Deleted < 40) await Task.Delay(10, timeout.Token);
            Assert.That(store.Statistics, Is.EqualTo(store.Statistics with { Blobs = 10, Deleted = 40 }));
        }
        finally
        {
            await store.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Test]
    public async Task Ephemeral_TTL_is_clamped_by_the_server_and_expired_blobs_are_never_served()
    {
        await using var store = await OpenAsync(Options() with { MaxTtl = TimeSpan.FromHours(1), DefaultTtl = TimeSpan.FromMinutes(10) });
        var handle = (await OpenAsync(store, Credentials.Random())).Handle;
        Assert.That(store.ClampTtl(TimeSpan.FromDays(3650)), Is.EqualTo(TimeSpan.FromHours(1)));
        Assert.That(store.ClampTtl(TimeSpan.Zero), Is.EqualTo(TimeSpan.FromMinutes(10)));
        await PushAsync(store, handle, Blobs.Make(), TimeSpan.FromDays(3650)); // asks for ten years
        await PushAsync(store, handle, Blobs.Make()); // default: 10 minutes
        await PushAsync(store, handle, Blobs.Make(), TimeSpan.FromMinutes(30));

        _time.Advance(TimeSpan.FromMinutes(11));
        var page = await store.ReadAfterAsync(handle, 0, 10, 1 << 20, CancellationToken.None);
        Assert.That(page.Blobs.Select(b => b.Cursor), Is.EqualTo(new ulong[] { 1, 3 }), "expired before cleanup is not served");
        Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.EqualTo(1));

        _time.Advance(TimeSpan.FromMinutes(50)); // past the 1 h ceiling, not past ten years
        Assert.That((await store.RunCleanupAsync(CancellationToken.None)).Blobs, Is.EqualTo(2));
        Assert.That(store.Statistics, Is.EqualTo(store.Statistics with { Blobs = 0, Bytes = 0, Mailboxes = 1 }));
    }

    [Test]
    public async Task A_mailbox_idle_past_its_expiry_is_deleted_whole_in_bounded_steps()
    {
        await using var store = await OpenAsync(Options() with { Role = MailboxRole.Replica, CleanupBatchRows = 16 });
        var stale = Credentials.Random();
        var active = Credentials.Random();
        var staleHandle = (await OpenAsync(store, stale)).Handle;
        for (var i = 0; i < 100; i++) await PushAsync(store, staleHandle, Blobs.Make(100));
        _time.Advance(TimeSpan.FromDays(60));
        var activeHandle = (await OpenAsync(store, active)).Handle;
        await PushAsync(store, activeHandle, Blobs.Make(100));
        _time.Advance(TimeSpan.FromDays(31)); // stale: 91 days, active: 31 days

        var (blobs, mailboxes) = await store.RunCleanupAsync(CancellationToken.None);
        Assert.That((blobs, mailboxes), Is.EqualTo((100L, 1)));
        Assert.That(store.Statistics, Is.EqualTo(store.Statistics with { Mailboxes = 1, Blobs = 1, Bytes = 100 }));
        Assert.That(async () => await PushAsync(store, staleHandle, Blobs.Make()),
            Throws.InstanceOf<MailboxException>().With.Property(nameof(MailboxException.Code)).EqualTo(MailboxErrorCode.NotOpen));
        // Opening it again starts an empty mailbox, with a new epoch: a device holding cursor 100 of the old one must
        // read the new one from 0 (were the epoch kept, it would skip the new blobs 1..100).
        var staleEpoch = store.EpochOf(staleHandle);
        var reopened = await OpenAsync(store, stale);
        Assert.That((reopened.Created, reopened.MaxCursor), Is.EqualTo((true, 0UL)));
        Assert.That(store.EpochOf(reopened.Handle), Is.Not.EqualTo(staleEpoch).And.Not.EqualTo(store.EpochOf(activeHandle)));
        await PushAsync(store, reopened.Handle, Blobs.Make());
        var page = await store.ReadAfterAsync(reopened.Handle, 0, 10, 1 << 20, CancellationToken.None);
        Assert.That(page.Epoch, Is.EqualTo(store.EpochOf(reopened.Handle)));
        var again = Blobs.Make();
        var push = await store.PushAsync(reopened.Handle, again.Id, again.Data, TimeSpan.Zero, CancellationToken.None);
        Assert.That(push.Epoch, Is.EqualTo(store.EpochOf(reopened.Handle)));
    }

    [Test]
    public async Task Mailbox_epochs_differ_between_mailboxes_and_survive_a_reopen_of_the_store()
    {
        var a = Credentials.Random();
        var b = Credentials.Random();
        ulong epochA, epochB;
        await using (var store = await OpenAsync(Options()))
        {
            epochA = store.EpochOf((await OpenAsync(store, a)).Handle);
            epochB = store.EpochOf((await OpenAsync(store, b)).Handle);
            Assert.That(epochA, Is.Not.EqualTo(epochB).And.Not.Zero);
        }
        await using (var again = await OpenAsync(Options()))
        {
            Assert.That(again.EpochOf((await OpenAsync(again, a)).Handle), Is.EqualTo(epochA));
            Assert.That(again.EpochOf((await OpenAsync(again, b.OtherDevice())).Handle), Is.EqualTo(epochB), "the epoch is the mailbox's, not the device's");
        }
        await using var reset = await OpenAsync(Options("reset.db"));
        Assert.That(reset.EpochOf((await OpenAsync(reset, a)).Handle), Is.Not.EqualTo(epochA), "a new store file gives new epochs");
    }

    [Test]
    public async Task Counters_match_the_tables_after_a_mix_of_operations_and_a_reopen()
    {
        var options = Options() with { Role = MailboxRole.Replica, CleanupBatchRows = 5 };
        await using (var store = await OpenAsync(options))
        {
            var random = new Random(7);
            var handles = new List<MailboxHandle>();
            for (var m = 0; m < 4; m++) handles.Add((await OpenAsync(store, Credentials.Random())).Handle);
            for (var i = 0; i < 200; i++)
            {
                var h = handles[random.Next(handles.Count)];
                await PushAsync(store, h, Blobs.Make(random.Next(1, 3000)));
                if (i % 17 == 0) await store.AckAsync(h, store.MaxCursor(h) / 2, CancellationToken.None);
            }
            await store.RunCleanupAsync(CancellationToken.None);
        }
        await using var reopened = await OpenAsync(options);
        await using var check = new SqliteConnection($"Data Source={options.DatabasePath};Mode=ReadOnly;Pooling=False");
        await check.OpenAsync();
        await using var command = check.CreateCommand();
        command.CommandText = """
            SELECT (SELECT COUNT(*) FROM blobs), (SELECT COALESCE(SUM(length(data)), 0) FROM blobs),
                (SELECT SUM(blobs) FROM mailboxes), (SELECT SUM(bytes) FROM mailboxes), (SELECT COUNT(*) FROM mailboxes)
            """;
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var stats = reopened.Statistics;
        Assert.Multiple(() =>
        {
            Assert.That(reader.GetInt64(0), Is.EqualTo(stats.Blobs).And.EqualTo(reader.GetInt64(2)));
            Assert.That(reader.GetInt64(1), Is.EqualTo(stats.Bytes).And.EqualTo(reader.GetInt64(3)));
            Assert.That(reader.GetInt64(4), Is.EqualTo(stats.Mailboxes));
            Assert.That(stats.Blobs, Is.LessThan(200), "acks trimmed some");
        });
    }

    [Test]
    public async Task The_archive_source_lists_replica_mailboxes_with_their_key_and_reads_their_tail()
    {
        await using var store = await OpenAsync(Options() with { Role = MailboxRole.Replica });
        var archived = Credentials.Random(archive: true);
        var plain = Credentials.Random();
        var handle = (await OpenAsync(store, archived)).Handle;
        await OpenAsync(store, plain);
        var blobs = Enumerable.Range(0, 10).Select(_ => Blobs.Make(500)).ToList();
        foreach (var blob in blobs) await PushAsync(store, handle, blob);
        IMailboxArchiveSource source = store;
        var list = await source.ListArchivedMailboxesAsync(CancellationToken.None);
        Assert.That(list, Has.Count.EqualTo(1));
        Assert.That(list[0].MailboxId.ToArray(), Is.EqualTo(archived.MailboxId));
        Assert.That(list[0].ArchiveKey.ToArray(), Is.EqualTo(archived.ArchiveKey));
        Assert.That(list[0].MaxCursor, Is.EqualTo(10));
        var tail = await source.ReadAfterAsync(archived.MailboxId, 4, 3, 1 << 20, CancellationToken.None);
        Assert.That(tail.Blobs.Select(b => b.Cursor), Is.EqualTo(new ulong[] { 5, 6, 7 }));
        Assert.That(tail.HasMore, Is.True);
        Assert.That(tail.Blobs[0].Data.ToArray(), Is.EqualTo(blobs[4].Data));
        Assert.That(tail.Epoch, Is.EqualTo(store.Epoch));
        var bytesBound = await source.ReadAfterAsync(archived.MailboxId, 0, 100, 1200, CancellationToken.None);
        Assert.That(bytesBound.Blobs, Has.Count.EqualTo(2));
        Assert.That((await source.ReadAfterAsync(plain.MailboxId.Reverse().ToArray(), 0, 10, 1000, CancellationToken.None)).Blobs, Is.Empty);
    }

    [Test]
    public async Task Ephemeral_stores_ignore_archive_keys()
    {
        await using var store = await OpenAsync(Options());
        await OpenAsync(store, Credentials.Random(archive: true));
        Assert.That(await ((IMailboxArchiveSource)store).ListArchivedMailboxesAsync(CancellationToken.None), Is.Empty);
    }

    [Test]
    public async Task The_server_stores_exactly_the_bytes_it_got_and_logs_no_payload_or_id()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var harness = await ServerHarness.StartAsync(cancellationToken: timeout.Token);
        var marker = Encoding.ASCII.GetBytes("KONTINUUM-PLAINTEXT-MARKER-7f3a");
        // The client seals before pushing; the server must keep what it received, unchanged, and nothing else.
        var sealedBlob = System.Security.Cryptography.RandomNumberGenerator.GetBytes(2048);
        var credentials = Credentials.Random();
        var (session, _) = await harness.OpenAsync(credentials, timeout.Token);
        await using (session)
        {
            await session.PushAsync((sealedBlob, KontinuumP2P.Certs.Hashing.Blake3.Hash(sealedBlob)), timeout.Token);
            var pulled = await session.PullAsync(0, 0, 0, 0, timeout.Token);
            Assert.That(pulled.Blobs[0].Data.ToArray(), Is.EqualTo(sealedBlob));
        }
        await harness.Server.DisposeAsync();
        SqliteConnection.ClearAllPools();
        var files = Directory.GetFiles(harness.Directory).Select(File.ReadAllBytes).ToList();
        // The row holds the bytes as received. With 1 KiB pages a 2 KiB blob spans overflow pages, so the check reads
        // the row rather than looking for the bytes in one piece; each page's share must still be there in the file.
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(harness.Directory, "mailbox.db"), Mode = SqliteOpenMode.ReadOnly, Pooling = false,
        }.ToString()))
        {
            connection.Open();
            using var read = connection.CreateCommand();
            read.CommandText = "SELECT data FROM blobs";
            Assert.That((byte[])read.ExecuteScalar()!, Is.EqualTo(sealedBlob), "the sealed bytes are stored as received");
        }
        // Stored as is, not transformed: every 64-byte piece is in the file but those cut by a page boundary (2 at most).
        var pieces = Enumerable.Range(0, sealedBlob.Length / 64).Count(i => files.Any(f => f.AsSpan().IndexOf(sealedBlob.AsSpan(i * 64, 64)) >= 0));
        Assert.That(pieces, Is.GreaterThanOrEqualTo(sealedBlob.Length / 64 - 2), "the sealed bytes are in the file as received");
        Assert.That(files.Any(f => f.AsSpan().IndexOf(marker) >= 0), Is.False);
        Assert.That(files.Any(f => f.AsSpan().IndexOf(credentials.Capability) >= 0), Is.False, "only a hash of the capability is kept");
        var log = string.Join('\n', harness.Logs.Lines);
        Assert.That(log, Is.Not.Empty);
        foreach (var secret in new[] { sealedBlob.AsSpan(0, 16).ToArray(), credentials.MailboxId, credentials.DeviceId, credentials.Capability })
        {
            Assert.That(log, Does.Not.Contain(Convert.ToHexString(secret)).IgnoreCase);
            Assert.That(log, Does.Not.Contain(Convert.ToBase64String(secret)));
        }
    }
}
