using System.Runtime.InteropServices;
using System.Threading.Channels;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Storage;

/// <content>
/// Overlapped durability (<see cref="MailboxStoreOptions.OverlapFlush"/>). The writer commits with
/// <c>synchronous=NORMAL</c>: <c>COMMIT</c> appends the group's frames to the WAL file without an fsync. Committed groups
/// queue for the flush task, which takes every group queued so far, fsyncs the WAL file once, and only then releases
/// them (cursors to pulls, notifications, acks). One fsync of the file covers every frame written to it before the
/// fsync started, so a group is acked only after a flush that began after its commit; the writer meanwhile commits the
/// next group, and a push waits for at most one flush in progress plus its own instead of for a whole group's commit
/// plus its fsync behind the one before.
/// Why the WAL file alone: with <c>synchronous=NORMAL</c> SQLite syncs the WAL before a checkpoint copies frames into
/// the database and syncs the database after, so frames are durable in the WAL (our flush) or in the database (the
/// checkpoint). A WAL reset after a checkpoint rewrites the same file from its start (same inode); the file is only
/// deleted when the last connection closes, and the writer's connection stays open for the store's life. The file is
/// opened for each flush, so a new WAL file could never be missed. A failed fsync faults the store: its groups and
/// every later write are refused (after a failed fsync the kernel may have dropped the pages, so nothing is acked).
/// </content>
public sealed partial class MailboxStore
{
    private Channel<CommittedGroup>? _unflushed;
    private string _walPath = "";
    private long _commitSequence, _committedSequence, _flushedSequence, _flushes;
    private Exception? _flushFault;

    /// <summary>Highest group sequence committed (groups are numbered from 1 in commit order).</summary>
    internal long CommittedSequence => Volatile.Read(ref _committedSequence);

    /// <summary>Highest group sequence covered by a finished WAL flush (overlapped mode only).</summary>
    internal long FlushedSequence => Volatile.Read(ref _flushedSequence);

    /// <summary>WAL flushes done by the flush task.</summary>
    internal long Flushes => Volatile.Read(ref _flushes);

    /// <summary>Test hook: called on the writer right after each group's commit, with its sequence.</summary>
    internal Action<long>? Committed { get; set; }

    /// <summary>Test hook: awaited by the writer once work is queued, before it takes the next group from the queue.</summary>
    internal Func<Task>? BeforeBatch { get; set; }

    /// <summary>Test hook: awaited by the flush task before each WAL flush, with the highest group sequence that flush covers.</summary>
    internal Func<long, Task>? BeforeFlush { get; set; }

    private bool Overlapped => _options.SyncFull && _options.OverlapFlush;

    private void StartDurability()
    {
        if (!Overlapped) return;
        _walPath = _options.DatabasePath + "-wal";
        // The open's own writes (schema, epoch) committed without a sync: flushed once before any ack depends on them,
        // with the directory, so the -wal file's entry is durable too (SQLite syncs it on its first WAL sync; ours replace those).
        FlushWal();
        KontinuumP2P.Certs.Secrets.DurableFiles.FlushDirectory(Path.GetDirectoryName(Path.GetFullPath(_walPath))!);
        _unflushed = Channel.CreateBounded<CommittedGroup>(new BoundedChannelOptions(_options.MaxUnflushedGroups)
        {
            SingleReader = true, SingleWriter = true,
        });
        _tasks.Run(stopping => DedicatedLoop.RunAsync("mailbox-flush", () => FlushLoopAsync(stopping)));
    }

    private async Task FlushLoopAsync(CancellationToken stopping)
    {
        var reader = _unflushed!.Reader;
        var groups = new List<CommittedGroup>();
        // On its own thread (DedicatedLoop), like the writer: the fsync blocks that thread, not a pool thread.
        // Runs until the writer completes the channel (at dispose, after its last group), so no committed group is left unanswered.
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            groups.Clear();
            while (reader.TryRead(out var group)) groups.Add(group);
            // Every group read here committed before this point, so the flush below (started after it) covers them all.
            var covered = groups[^1].Sequence;
            if (BeforeFlush is { } hook) await hook(covered);
            var fault = Volatile.Read(ref _flushFault);
            if (fault is null)
            {
                try
                {
                    var started = _time.GetTimestamp();
                    FlushWal();
                    FlushTimes.Record(_time.GetElapsedTime(started));
                    Stalls.Record("wal flush", started, _time.GetElapsedTime(started));
                    Interlocked.Increment(ref _flushes);
                    Volatile.Write(ref _flushedSequence, covered);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Log.FlushFailed(_logger, groups.Count, e);
                    fault = e;
                    Volatile.Write(ref _flushFault, e);
                }
            }
            if (fault is null)
            {
                foreach (var group in groups) Release(group);
                continue;
            }
            var error = new MailboxException(MailboxErrorCode.Internal, "the mailbox store could not flush its log; the write is not acknowledged");
            foreach (var group in groups)
                foreach (var op in group.Ops) op.Fail(error);
        }
    }

    /// <summary>Bench hook: each WAL flush's duration, once <see cref="DurationRecorder.Start"/> was called.</summary>
    internal DurationRecorder FlushTimes { get; } = new();

    /// <summary>Bench hook: each group commit's duration on the writer (SQLite's backstop checkpoint runs inside one).</summary>
    internal DurationRecorder CommitTimes { get; } = new();

    /// <summary>
    /// Sync of the WAL file: one call makes every frame written to it so far durable. On Linux <c>fdatasync</c>
    /// (<see cref="MailboxStoreOptions.WalDataSync"/>): it writes the data and whatever metadata reading it back needs (the
    /// size, when the file grew) but not the timestamps, so once the WAL reuses its blocks after a restart a flush needs
    /// no ext4 journal commit and no longer queues behind the checkpoints' database syncs.
    /// </summary>
    private void FlushWal() => SyncFile(_walPath, _options.WalDataSync);

    /// <summary>Makes what was written to <paramref name="path"/> durable (opened for this call; see the overload).</summary>
    private static void SyncFile(string path, bool dataOnly)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        SyncFile(file, dataOnly);
    }

    /// <summary>Makes what was written to <paramref name="file"/> durable: <c>fdatasync</c> on Linux when <paramref name="dataOnly"/>, else <c>fsync</c>.</summary>
    private static void SyncFile(FileStream file, bool dataOnly)
    {
        if (!dataOnly || !OperatingSystem.IsLinux())
        {
            file.Flush(flushToDisk: true);
            return;
        }
        var handle = file.SafeFileHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (FDataSync((int)handle.DangerousGetHandle()) != 0)
                throw new IOException($"fdatasync of {file.Name} failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(int fd);

    /// <summary>One committed group: its answers and what it changed, released together once durable.</summary>
    private sealed record CommittedGroup(long Sequence, WriteOp[] Ops, (long Row, ulong MaxCursor)[] Published, long[] Removed,
        List<(long Row, ulong MaxCursor)>? Grown, long Mailboxes, long Blobs, long Bytes, long Pushes, long Duplicates, long Deleted);

    private static partial class Log
    {
        [LoggerMessage(EventId = 5, Level = LogLevel.Critical, Message = "Mailbox store could not flush its WAL; {Groups} committed groups and every later write are refused")]
        public static partial void FlushFailed(ILogger logger, int groups, Exception exception);
    }
}
