using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SQLitePCL;

namespace KontinuumP2P.Mailbox.Storage;

/// <content>
/// Checkpoints off the writer (<see cref="MailboxStoreOptions.CheckpointInterval"/>). SQLite's automatic checkpoint runs
/// on the connection that commits, so every ~1,000 WAL pages the writer stopped to sync the WAL, copy pages back and sync
/// the database while pushes queued behind it. Here a task with its own connection runs a PASSIVE checkpoint each
/// interval in which something was committed; a passive checkpoint never blocks the writer (it takes only the
/// checkpointer lock), so the writer keeps committing meanwhile. A passive checkpoint cannot restart the WAL while new
/// frames keep arriving, so the writer keeps SQLite's automatic checkpoint as a backstop at
/// <see cref="MailboxStoreOptions.CheckpointBackstopPages"/>: the WAL file stays bounded, and by then the background
/// task has already copied nearly every frame, so the backstop has little left to do.
/// A passive checkpoint never restarts the WAL either: SQLite restarts it at a writer's BEGIN only once every frame is
/// copied, and frames keep arriving while the background one syncs. So once the WAL holds
/// <see cref="MailboxStoreOptions.CheckpointRestartPages"/>, the background task asks the writer, which checkpoints
/// between two groups the few frames committed since that background checkpoint; its next BEGIN restarts the WAL. Left
/// to the backstop instead, the writer copied and synced up to an interval's worth of random pages (~100 ms stalls
/// measured at 10,000 pushes/s, docs/benchmarks.md, seventh session).
/// Each restart still stops the writer for its checkpoint and for the WAL header sync in the commit that restarts the WAL
/// (~5 ms). That checkpoint took 20-50 ms whatever the number of frames left, because it was the first to sync the
/// database since the last restart: SQLite syncs the database only in a checkpoint that copies every frame, so every page
/// the background passes had copied was still dirty. The background task now syncs the database after each pass
/// (<see cref="MailboxStoreOptions.BackgroundDatabaseSync"/>), and the restart checkpoint syncs only the few frames since
/// (5-10 ms). Before asking, the background task can also run up to <see cref="MailboxStoreOptions.RestartCatchUpPasses"/>
/// passes back to back so the writer's checkpoint has less to copy.
/// The writer keeps <c>synchronous=NORMAL</c>: with OFF it would skip that header sync, which orders the new WAL header
/// before the frames that overwrite the old log (docs/mailbox.md, "Why the writer keeps synchronous=NORMAL").
/// Durability is unchanged: a checkpoint syncs the WAL before it copies and, before the WAL can restart, the database; the
/// background sync only makes pages durable earlier.
/// </content>
public sealed partial class MailboxStore
{
    private long _backgroundCheckpoints, _checkpointedSequence, _writerCheckpoints;
    private int _restartWanted;
    private bool _restartCommitPending;
    private long _catchUpPasses, _backgroundDatabaseSyncs;

    /// <summary>Database syncs the background task ran after its passes (<see cref="MailboxStoreOptions.BackgroundDatabaseSync"/>).</summary>
    internal long BackgroundDatabaseSyncs => Volatile.Read(ref _backgroundDatabaseSyncs);

    // The database file, for the background sync: opened once at open and closed only after every connection (DisposeAsync),
    // because closing any descriptor of the file drops every POSIX lock this process holds on it, SQLite's included.
    private FileStream? _databaseFile;

    /// <summary>Extra background passes run before a WAL restart was asked of the writer.</summary>
    internal long CatchUpPasses => Volatile.Read(ref _catchUpPasses);

    /// <summary>Bench hook: each checkpoint the writer ran between two groups to restart the WAL (the writer is stopped meanwhile).</summary>
    internal DurationRecorder WriterCheckpointTimes { get; } = new();

    /// <summary>Bench hook: the group commit right after each writer checkpoint (the one that restarts the WAL).</summary>
    internal DurationRecorder RestartCommitTimes { get; } = new();

    /// <summary>Bench hook: each passive checkpoint of the background task (the writer goes on meanwhile).</summary>
    internal DurationRecorder BackgroundCheckpointTimes { get; } = new();

    /// <summary>Bench hook: every step above of 2 ms or more, and the flushes and commits, with when it started.</summary>
    internal StallTimeline Stalls { get; } = new();

    /// <summary>Bench hook: each wait of the writer for room among the unflushed groups (<see cref="MailboxStoreOptions.MaxUnflushedGroups"/>).</summary>
    internal DurationRecorder BackpressureTimes { get; } = new();

    /// <summary>Checkpoints the writer ran when asked to restart the WAL.</summary>
    internal long WriterCheckpoints => Volatile.Read(ref _writerCheckpoints);

    /// <summary>Passive checkpoints run by the background task.</summary>
    internal long BackgroundCheckpoints => Volatile.Read(ref _backgroundCheckpoints);

    /// <summary>Test hook: called by the background task after each passive checkpoint.</summary>
    internal Action? Checkpointed { get; set; }

    private bool CheckpointsInBackground => _options.CheckpointInterval > TimeSpan.Zero;

    /// <summary>On the writer connection at open: the automatic checkpoint becomes the backstop when a background task checkpoints.</summary>
    private async Task ConfigureCheckpointsAsync(CancellationToken cancellationToken)
    {
        if (!CheckpointsInBackground) return;
        Execute($"PRAGMA wal_autocheckpoint={_options.CheckpointBackstopPages}");
        // Opened here, before the store is returned, not on the loop's thread: a connection that opens its WAL later
        // creates a -wal file if there is none by then, so the store's files would depend on when a thread started
        // (in CI, an open that late recreated a WAL a test had deleted and the flush it expected to fail succeeded).
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = _options.DatabasePath, Mode = SqliteOpenMode.ReadWrite, Pooling = false,
        }.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // A connection that never read the file has not opened its WAL, and a checkpoint on it does nothing yet returns
            // SQLITE_OK (with -1 frames): until 2026-12-05 every "background" checkpoint was such a no-op and the writer's
            // backstop did them all. One read opens the WAL for the connection's life.
            OpenWal(connection);
            if (_options.BackgroundDatabaseSync) _databaseFile = OpenDatabaseFile();
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        _tasks.Run(stopping => DedicatedLoop.RunAsync("mailbox-checkpoint", () => CheckpointLoopAsync(connection, stopping)));
    }

    private async Task CheckpointLoopAsync(SqliteConnection checkpointConnection, CancellationToken stopping)
    {
        await using var connection = checkpointConnection;
        var db = connection.Handle ?? throw new InvalidOperationException("the checkpoint connection is not open");
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.CheckpointInterval, _time, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            // Only what is already flushed: a checkpoint of unflushed frames would sync them anyway, but there is no need to race the flush task.
            var covered = Overlapped ? FlushedSequence : CommittedSequence;
            if (covered == Volatile.Read(ref _checkpointedSequence)) continue;
            var started = _time.GetTimestamp();
            var rc = raw.sqlite3_wal_checkpoint_v2(db, "main", raw.SQLITE_CHECKPOINT_PASSIVE, out var walFrames, out _);
            var took = _time.GetElapsedTime(started);
            BackgroundCheckpointTimes.Record(took);
            Stalls.Record("background checkpoint", started, took);
            // Before asking the writer to restart the WAL: passes back to back, each copying (and syncing) what arrived
            // during the one before, until one is short, so the writer's own checkpoint finds little left to copy and sync.
            for (var pass = 0; rc == raw.SQLITE_OK && walFrames >= _options.CheckpointRestartPages && pass < _options.RestartCatchUpPasses
                && took > _options.RestartCatchUpTarget; pass++)
            {
                started = _time.GetTimestamp();
                rc = raw.sqlite3_wal_checkpoint_v2(db, "main", raw.SQLITE_CHECKPOINT_PASSIVE, out walFrames, out _);
                took = _time.GetElapsedTime(started);
                BackgroundCheckpointTimes.Record(took);
                Stalls.Record("catch-up pass", started, took);
                Interlocked.Increment(ref _catchUpPasses);
            }
            if (rc != raw.SQLITE_OK && rc != raw.SQLITE_BUSY)
            {
                Log.CheckpointFailed(_logger, rc, raw.sqlite3_errmsg(db).utf8_to_string());
                continue;
            }
            if (rc == raw.SQLITE_OK && walFrames < 0)
            {
                Log.CheckpointFailed(_logger, rc, "the checkpoint connection had no WAL open");
                OpenWal(connection);
                continue;
            }
            // Before any ask: the writer's restart checkpoint then finds the pages copied so far already on disk.
            if (_options.BackgroundDatabaseSync) SyncDatabaseInBackground();
            if (rc == raw.SQLITE_OK && walFrames >= _options.CheckpointRestartPages) Volatile.Write(ref _restartWanted, 1);
            Volatile.Write(ref _checkpointedSequence, covered);
            Interlocked.Increment(ref _backgroundCheckpoints);
            Checkpointed?.Invoke();
        }
    }

    /// <summary>
    /// A passive checkpoint that leaves frames behind does not sync the database: SQLite syncs it only when every frame is
    /// copied, just before recording that. So the pages the background passes copied stayed dirty in the page cache, and
    /// the writer's restart checkpoint, the first to copy every frame, wrote and synced all of them while pushes waited
    /// (~2,500 random 4 KiB writes, 20-30 ms, block trace in docs/benchmarks.md, ninth session). Synced here after each
    /// pass, off the writer, they are on disk before the writer is asked. Only an early sync: a failure changes nothing
    /// for durability (the restart checkpoint syncs the database itself and fails without restarting the WAL).
    /// </summary>
    private void SyncDatabaseInBackground()
    {
        var started = _time.GetTimestamp();
        try
        {
            SyncFile(_databaseFile!, dataOnly: true);
            Interlocked.Increment(ref _backgroundDatabaseSyncs);
        }
        catch (IOException e)
        {
            Log.BackgroundSyncFailed(_logger, e);
        }
        Stalls.Record("background database sync", started, _time.GetElapsedTime(started));
    }

    /// <summary>The database file for the background sync, opened with the checkpoint connection (an open that fails fails the store's open).</summary>
    private FileStream OpenDatabaseFile() =>
        new(_options.DatabasePath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);

    private static void OpenWal(SqliteConnection connection)
    {
        using var read = connection.CreateCommand();
        read.CommandText = "SELECT COUNT(*) FROM meta";
        read.ExecuteScalar();
    }

    /// <summary>On the writer between groups, when the background task asked: copies what it has not, so the next BEGIN restarts the WAL.</summary>
    private void RestartWalIfWanted()
    {
        if (Volatile.Read(ref _restartWanted) == 0 || Interlocked.Exchange(ref _restartWanted, 0) == 0) return;
        var db = _writer.Handle!;
        var started = _time.GetTimestamp();
        var rc = raw.sqlite3_wal_checkpoint_v2(db, "main", raw.SQLITE_CHECKPOINT_PASSIVE, out _, out _);
        WriterCheckpointTimes.Record(_time.GetElapsedTime(started));
        Stalls.Record("writer checkpoint", started, _time.GetElapsedTime(started));
        if (rc != raw.SQLITE_OK && rc != raw.SQLITE_BUSY) Log.CheckpointFailed(_logger, rc, raw.sqlite3_errmsg(db).utf8_to_string());
        else
        {
            Interlocked.Increment(ref _writerCheckpoints);
            _restartCommitPending = true;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Mailbox store background checkpoint failed ({Code}: {Message}); the writer's backstop checkpoint still bounds the WAL")]
        public static partial void CheckpointFailed(ILogger logger, int code, string message);

        [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Mailbox store background database sync failed; the checkpoint that restarts the WAL still syncs the database itself")]
        public static partial void BackgroundSyncFailed(ILogger logger, Exception exception);
    }
}
