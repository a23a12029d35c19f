using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Threading.Channels;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Mailbox.Storage;

/// <summary>
/// The mailbox server's durable store: one SQLite file in WAL mode written by one writer task that commits queued
/// operations in groups (up to <see cref="MailboxStoreOptions.MaxBatchOperations"/>, as soon as the queue is empty), so
/// a push is answered only after the commit that holds it is durable (by default a WAL flush overlapped with the next
/// group's commit, see <see cref="MailboxStoreOptions.OverlapFlush"/>), and its cursor is assigned in that same transaction.
/// Per-mailbox counters (next cursor, bytes, blobs, last access) live in one row updated in the same transaction, so
/// quotas cost O(1). Pulls and archive reads use separate read connections. Retention runs as bounded cleanup
/// operations interleaved with pushes.
/// </summary>
public sealed partial class MailboxStore : IMailboxArchiveSource, IAsyncDisposable
{
    private readonly MailboxStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SqliteConnection _writer;
    private readonly Channel<WriteOp> _queue;
    private readonly Channel<SqliteConnection> _readPool;
    private readonly string _readConnectionString;
    private readonly BackgroundTasks _tasks;
    private readonly MailboxStoreMetrics _metrics;
    private readonly ConcurrentDictionary<long, ulong> _published = new();
    private readonly SemaphoreSlim _cleanupWake = new(0, 1);
    private int _readersCreated;
    private long _mailboxes, _blobs, _bytes, _pushes, _duplicates, _deleted, _batches;
    private int _disposed;

    private MailboxStore(MailboxStoreOptions options, SqliteConnection writer, TimeProvider time, ILogger logger,
        System.Diagnostics.Metrics.IMeterFactory? meterFactory)
    {
        _options = options;
        _writer = writer;
        _time = time;
        _logger = logger;
        _queue = Channel.CreateBounded<WriteOp>(new BoundedChannelOptions(options.WriteQueueCapacity) { SingleReader = true });
        _readPool = Channel.CreateBounded<SqliteConnection>(options.ReadConnections);
        _readConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = options.DatabasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false,
        }.ToString();
        _tasks = new BackgroundTasks(e => Log.BackgroundFailed(_logger, e));
        _metrics = new MailboxStoreMetrics(meterFactory, () => Volatile.Read(ref _mailboxes), () => Volatile.Read(ref _blobs),
            () => Volatile.Read(ref _bytes));
    }

    /// <summary>The store's epoch: random, created with the store file, kept across reopenings.</summary>
    public ulong Epoch { get; private set; }

    /// <summary>The database file's page size (set when the file was created).</summary>
    internal long PageSize { get; private set; }

    /// <summary>The options in force.</summary>
    public MailboxStoreOptions Options => _options;

    /// <summary>Counters of the whole store.</summary>
    public MailboxStoreStatistics Statistics => new(Volatile.Read(ref _mailboxes), Volatile.Read(ref _blobs), Volatile.Read(ref _bytes),
        Volatile.Read(ref _pushes), Volatile.Read(ref _duplicates), Volatile.Read(ref _deleted), Volatile.Read(ref _batches));

    /// <summary>Called on the writer task after each commit with the mailboxes that gained blobs (for notifications).</summary>
    internal Action<IReadOnlyList<(long Row, ulong MaxCursor)>>? Grown { get; set; }

    /// <summary>Opens (creating when absent, with a new random epoch) the store and starts its writer and cleanup.</summary>
    public static async Task<MailboxStore> OpenAsync(MailboxStoreOptions options, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null,
        System.Diagnostics.Metrics.IMeterFactory? meterFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var directory = Path.GetDirectoryName(Path.GetFullPath(options.DatabasePath));
        if (directory is not null) Directory.CreateDirectory(directory);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = options.DatabasePath, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false,
        }.ToString());
        MailboxStore? store = null;
        var writerStarted = false;
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            store = new MailboxStore(options, connection, timeProvider ?? TimeProvider.System,
                (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<MailboxStore>(), meterFactory);
            await store.InitialiseAsync(cancellationToken).ConfigureAwait(false);
            store.StartDurability();
            await store.ConfigureCheckpointsAsync(cancellationToken).ConfigureAwait(false);
            store._tasks.Run(stopping => DedicatedLoop.RunAsync("mailbox-writer", () => store.WriterLoopAsync(stopping)));
            writerStarted = true;
            if (options.BackgroundCleanup) store._tasks.Run(store.CleanupLoopAsync);
            return store;
        }
        catch
        {
            if (store is null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            // The store owns the connection once made and stops whatever it started; the flush loop ends when the writer
            // completes its channel, so without a writer that is done here.
            if (!writerStarted) store._unflushed?.Writer.TryComplete();
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task InitialiseAsync(CancellationToken cancellationToken)
    {
        // One pragma per command, read back: a durability setting that silently failed to apply would void every ack.
        // FULL only when each COMMIT must sync itself; overlapped flushes sync the WAL on their own task (Durability.cs).
        var synchronous = _options.SyncFull && !_options.OverlapFlush ? 2L : 1L;
        // Before anything is written: applies to a new file only (an existing one keeps its page size; WAL mode fixes it).
        Execute($"PRAGMA page_size={_options.PageSize}");
        var journal = Scalar("PRAGMA journal_mode=WAL") as string;
        Execute($"PRAGMA synchronous={synchronous}");
        var applied = Scalar("PRAGMA synchronous") as long?;
        if (!string.Equals(journal, "wal", StringComparison.OrdinalIgnoreCase) || applied != synchronous)
            throw new InvalidOperationException($"could not put {_options.DatabasePath} in WAL mode with synchronous={synchronous} (got {journal}, {applied})");
        Execute("PRAGMA busy_timeout=5000");
        Execute($"""
            CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL,
                mailboxes INTEGER NOT NULL, blobs INTEGER NOT NULL, bytes INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS mailboxes (id INTEGER PRIMARY KEY AUTOINCREMENT, mailbox_id BLOB NOT NULL UNIQUE,
                cap_hash BLOB NOT NULL, archive_key BLOB, next_cursor INTEGER NOT NULL, bytes INTEGER NOT NULL,
                blobs INTEGER NOT NULL, last_access INTEGER NOT NULL, trimmed INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS mailboxes_by_access ON mailboxes (last_access);
            CREATE TABLE IF NOT EXISTS blobs (k INTEGER PRIMARY KEY, blob_id BLOB NOT NULL, data BLOB NOT NULL,
                expires INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS blobs_by_tag ON blobs (substr(blob_id, 1, 8));
            CREATE INDEX IF NOT EXISTS blobs_by_expiry ON blobs (expires) WHERE expires > 0;
            CREATE TABLE IF NOT EXISTS devices (mailbox INTEGER NOT NULL, device_id BLOB NOT NULL, acked INTEGER NOT NULL,
                PRIMARY KEY (mailbox, device_id)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS graveyard (mailbox INTEGER PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS removed_devices (mailbox INTEGER NOT NULL, device_id BLOB NOT NULL,
                PRIMARY KEY (mailbox, device_id)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS tombstones (mailbox_id BLOB PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS tombstones_by_until ON tombstones (until);
            """);
        // Stores created before the 8-byte tag index had a 32-byte blob-id index: the tag index above was just built
        // from their rows, and the old one goes (both steps idempotent, so a crash in between is finished at the next open).
        if (Scalar("SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = 'blobs_by_id'") is not null)
        {
            Execute("DROP INDEX blobs_by_id");
            Log.MigratedBlobIndex(_logger, _options.DatabasePath);
        }
        PageSize = (long)Scalar("PRAGMA page_size")!;
        await using var tx = (SqliteTransaction)await _writer.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var read = _writer.CreateCommand())
        {
            read.Transaction = tx;
            read.CommandText = "SELECT epoch, mailboxes, blobs, bytes FROM meta WHERE id = 1";
            await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                Epoch = (ulong)reader.GetInt64(0);
                _mailboxes = reader.GetInt64(1);
                _blobs = reader.GetInt64(2);
                _bytes = reader.GetInt64(3);
            }
        }
        if (Epoch == 0)
        {
            Epoch = NewEpoch();
            await using var insert = _writer.CreateCommand();
            insert.Transaction = tx;
            insert.CommandText = "INSERT INTO meta (id, epoch, mailboxes, blobs, bytes) VALUES (1, $epoch, 0, 0, 0)";
            insert.Parameters.AddWithValue("$epoch", (long)Epoch);
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using (var count = _writer.CreateCommand())
        {
            count.Transaction = tx;
            count.CommandText = "SELECT COUNT(*) FROM tombstones";
            _wTombstones = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        PrepareWriterCommands();
        Log.Opened(_logger, _options.DatabasePath, Epoch, _mailboxes, _blobs);
    }

    /// <summary>
    /// The epoch of one mailbox as served now: derived from the store's epoch and the mailbox's row, which SQLite's
    /// AUTOINCREMENT never hands out twice. A mailbox deleted (idle expiry) and opened again gets a new row and so a new
    /// epoch; a reset store (new file) gives every mailbox a new one; reopening the same file keeps them all.
    /// </summary>
    public ulong EpochOf(MailboxHandle mailbox)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        return mailbox.Epoch;
    }

    private ulong MailboxEpoch(long row)
    {
        Span<byte> input = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(input, Epoch);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(input[8..], row);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        var epoch = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(hash) & long.MaxValue;
        return epoch == 0 ? 1 : epoch;
    }

    private static ulong NewEpoch()
    {
        Span<byte> bytes = stackalloc byte[8];
        ulong epoch;
        do
        {
            RandomNumberGenerator.Fill(bytes);
            // Kept below 2^63 so it round-trips through SQLite's signed integers.
            epoch = BitConverter.ToUInt64(bytes) & long.MaxValue;
        }
        while (epoch == 0);
        return epoch;
    }

    private void Execute(string sql)
    {
        using var command = _writer.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private object? Scalar(string sql)
    {
        using var command = _writer.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    /// <summary>
    /// Opens <paramref name="mailboxId"/> for <paramref name="deviceId"/>: creates it (bound to BLAKE3 of
    /// <paramref name="capability"/>) on first use, checks the capability otherwise, registers the device and records
    /// the access. Throws <see cref="MailboxException"/> (unauthorized, server full, mailbox quota for devices).
    /// </summary>
    public Task<MailboxOpened> OpenMailboxAsync(ReadOnlyMemory<byte> mailboxId, ReadOnlyMemory<byte> capability, ReadOnlyMemory<byte> deviceId,
        ReadOnlyMemory<byte> archiveKey, CancellationToken cancellationToken)
    {
        if (mailboxId.Length != MailboxProtocol.IdLength) throw new ArgumentException("a mailbox id has 32 bytes", nameof(mailboxId));
        if (capability.Length != MailboxProtocol.IdLength) throw new ArgumentException("a capability has 32 bytes", nameof(capability));
        if (deviceId.Length is < MailboxProtocol.MinDeviceIdLength or > MailboxProtocol.MaxDeviceIdLength)
            throw new ArgumentException("a device id has 16 to 32 bytes", nameof(deviceId));
        if (archiveKey.Length is not (0 or MailboxProtocol.IdLength)) throw new ArgumentException("an archive key has 32 bytes", nameof(archiveKey));
        var op = new OpenOp(mailboxId.ToArray(), KontinuumP2P.Certs.Hashing.Blake3.Hash(capability.Span), deviceId.ToArray(),
            archiveKey.IsEmpty || _options.Role != MailboxRole.Replica ? null : archiveKey.ToArray());
        return EnqueueAsync(op, cancellationToken);
    }

    /// <summary>
    /// Stores a blob and returns its cursor once committed; the same blob id again returns its original cursor. Throws
    /// <see cref="MailboxException"/> (blob too large, bad blob id, mailbox quota, server full) having stored nothing.
    /// </summary>
    /// <param name="mailbox">The opened mailbox.</param>
    /// <param name="blobId">BLAKE3 of <paramref name="data"/> (checked).</param>
    /// <param name="data">The sealed bytes.</param>
    /// <param name="ttl">Requested TTL (ephemeral; zero = the default; clamped to the maximum). Ignored by replicas.</param>
    /// <param name="cancellationToken">Cancels waiting for queue space (not a queued push).</param>
    public Task<MailboxPushResult> PushAsync(MailboxHandle mailbox, ReadOnlyMemory<byte> blobId, ReadOnlyMemory<byte> data, TimeSpan ttl,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        CheckPushed(blobId.Span, data.Span);
        return EnqueueAsync(new PushOp(mailbox.Row, blobId.ToArray(), data.ToArray(), ClampTtl(ttl)), cancellationToken);
    }

    /// <summary>Refuses a blob over the size limit or whose id is not its BLAKE3, before anything is queued.</summary>
    private void CheckPushed(ReadOnlySpan<byte> blobId, ReadOnlySpan<byte> data)
    {
        if (data.Length > _options.MaxBlobBytes)
            throw new MailboxException(MailboxErrorCode.BlobTooLarge, $"blob of {data.Length} bytes exceeds the {_options.MaxBlobBytes}-byte limit");
        if (blobId.Length != MailboxProtocol.IdLength) throw new MailboxException(MailboxErrorCode.BadBlobId, "a blob id has 32 bytes");
        Span<byte> hash = stackalloc byte[MailboxProtocol.IdLength];
        KontinuumP2P.Certs.Hashing.Blake3.Hash(data, hash);
        if (!hash.SequenceEqual(blobId)) throw new MailboxException(MailboxErrorCode.BadBlobId, "the blob id is not BLAKE3 of the blob");
    }

    /// <summary>
    /// As <see cref="PushAsync"/> for bytes nobody writes to again (a parsed wire message's fields): an exactly-sized
    /// backing array is queued as is instead of copied (two allocations and a 1 KiB copy per push fewer).
    /// </summary>
    internal Task<MailboxPushResult> PushImmutableAsync(MailboxHandle mailbox, ReadOnlyMemory<byte> blobId, ReadOnlyMemory<byte> data, TimeSpan ttl,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        CheckPushed(blobId.Span, data.Span);
        return EnqueueAsync(new PushOp(mailbox.Row, Owned(blobId), Owned(data), ClampTtl(ttl)), cancellationToken);
    }

    private static byte[] Owned(ReadOnlyMemory<byte> memory) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(memory, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : memory.ToArray();

    /// <summary>The TTL a push gets: the default when none is asked, never above the maximum; zero (none) on replicas.</summary>
    public TimeSpan ClampTtl(TimeSpan requested)
    {
        if (_options.Role == MailboxRole.Replica) return TimeSpan.Zero;
        if (requested <= TimeSpan.Zero) return _options.DefaultTtl;
        return requested > _options.MaxTtl ? _options.MaxTtl : requested;
    }

    /// <summary>Moves this device's ack position up to <paramref name="upToCursor"/> (never back); returns the position.</summary>
    /// <exception cref="MailboxException">BAD_CURSOR when past the mailbox's end.</exception>
    public Task<ulong> AckAsync(MailboxHandle mailbox, ulong upToCursor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        return EnqueueAsync(new AckOp(mailbox.Row, mailbox.DeviceId.ToArray(), upToCursor), cancellationToken);
    }

    /// <summary>Highest cursor committed in the mailbox (from memory).</summary>
    public ulong MaxCursor(MailboxHandle mailbox)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        return _published.TryGetValue(mailbox.Row, out var max) ? max : 0;
    }

    private async Task<T> EnqueueAsync<T>(WriteOp<T> op, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        try
        {
            await _queue.Writer.WriteAsync(op, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new MailboxException(MailboxErrorCode.ShuttingDown, "the mailbox store is closing");
        }
        return await op.Task.ConfigureAwait(false);
    }

    /// <summary>Stops taking operations, commits those queued, stops cleanup and closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.Writer.TryComplete();
        await _tasks.DisposeAsync().ConfigureAwait(false);
        while (_queue.Reader.TryRead(out var left)) left.Fail(new MailboxException(MailboxErrorCode.ShuttingDown, "the mailbox store closed"));
        DisposeWriterCommands();
        await _writer.DisposeAsync().ConfigureAwait(false);
        _readPool.Writer.TryComplete();
        while (_readPool.Reader.TryRead(out var connection)) await connection.DisposeAsync().ConfigureAwait(false);
        // Last, after every connection: closing it earlier would drop SQLite's locks on the file (Checkpoints.cs).
        if (_databaseFile is not null) await _databaseFile.DisposeAsync().ConfigureAwait(false);
        _metrics.Dispose();
        _cleanupWake.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Mailbox store {Path} open: epoch {Epoch:x16}, {Mailboxes} mailboxes, {Blobs} blobs")]
        public static partial void Opened(ILogger logger, string path, ulong epoch, long mailboxes, long blobs);

        [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Mailbox store {Path}: the 32-byte blob-id index was replaced by the 8-byte tag index")]
        public static partial void MigratedBlobIndex(ILogger logger, string path);

        [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Mailbox store background task failed")]
        public static partial void BackgroundFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Mailbox store commit of {Operations} operations failed; all were refused")]
        public static partial void CommitFailed(ILogger logger, int operations, Exception exception);

        [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Mailbox store cleanup deleted {Blobs} blobs and {Mailboxes} idle mailboxes")]
        public static partial void Cleaned(ILogger logger, long blobs, int mailboxes);
    }
}
