using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Storage;

/// <summary>Settings of a <see cref="MailboxStore"/>: its file, retention and the quotas it enforces.</summary>
public sealed record MailboxStoreOptions
{
    /// <summary>Path of the SQLite database file (created with a new epoch when absent).</summary>
    public required string DatabasePath { get; init; }

    /// <summary>Ephemeral (TTL) or replica (until every device acked).</summary>
    public MailboxRole Role { get; init; } = MailboxRole.Ephemeral;

    /// <summary>TTL of an ephemeral push that asks for none.</summary>
    public TimeSpan DefaultTtl { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Ceiling of an ephemeral push's TTL; longer requests are clamped to it.</summary>
    public TimeSpan MaxTtl { get; init; } = TimeSpan.FromDays(7);

    /// <summary>A mailbox not opened or pushed to for this long is deleted whole.</summary>
    public TimeSpan IdleExpiry { get; init; } = TimeSpan.FromDays(90);

    /// <summary>Largest blob stored.</summary>
    public int MaxBlobBytes { get; init; } = MailboxProtocol.MaxBlobBytes;

    /// <summary>Bytes of blobs one mailbox may hold.</summary>
    public long MaxMailboxBytes { get; init; } = 1L << 30;

    /// <summary>Blobs one mailbox may hold.</summary>
    public long MaxMailboxBlobs { get; init; } = 1_000_000;

    /// <summary>Mailboxes the store holds (each open of an unknown id creates one).</summary>
    public int MaxMailboxes { get; init; } = 100_000;

    /// <summary>Devices registered per mailbox.</summary>
    public int MaxDevicesPerMailbox { get; init; } = 32;

    /// <summary>Devices a mailbox remembers as removed (a removal beyond this is refused: rotate instead).</summary>
    public int MaxRemovedDevicesPerMailbox { get; init; } = 64;

    /// <summary>Closed mailbox ids remembered (the oldest tombstone is evicted first when full).</summary>
    public int MaxTombstones { get; init; } = 100_000;

    /// <summary>How long a closed mailbox's id stays tombstoned.</summary>
    public TimeSpan TombstoneLifetime { get; init; } = TimeSpan.FromDays(90);

    /// <summary>Cap on the bytes the store holds (blob bytes plus a per-blob allowance for rows and indexes).</summary>
    public long MaxDbBytes { get; init; } = 64L << 30;

    /// <summary>Operations waiting for the writer; pushes beyond wait (backpressure).</summary>
    public int WriteQueueCapacity { get; init; } = 4096;

    /// <summary>Operations committed together at most (a batch commits as soon as the queue is empty, so a lone push waits for no one).</summary>
    public int MaxBatchOperations { get; init; } = 256;

    /// <summary>Rows deleted per cleanup step (one writer operation).</summary>
    public int CleanupBatchRows { get; init; } = 512;

    /// <summary>Interval of the background cleanup (an ack that frees blobs also wakes it).</summary>
    public TimeSpan CleanupInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Runs retention in the background (off: only <see cref="MailboxStore.RunCleanupAsync"/> deletes, as tests need).</summary>
    public bool BackgroundCleanup { get; init; } = true;

    /// <summary>Read connections for pulls.</summary>
    public int ReadConnections { get; init; } = 4;

    /// <summary>
    /// Durable against power loss rather than only against process crashes (<c>synchronous=NORMAL</c>, acks at
    /// commit). How the flush is done is <see cref="OverlapFlush"/>.
    /// </summary>
    public bool SyncFull { get; init; } = true;

    /// <summary>
    /// With <see cref="SyncFull"/>: commits run with <c>synchronous=NORMAL</c> and a separate flush task fsyncs the WAL
    /// file, completing a group's acks only after a flush that started after its commit, while the writer commits the
    /// next group (the default: the durability wait no longer stops the writer). Off: <c>synchronous=FULL</c>, each
    /// <c>COMMIT</c> fsyncs on the writer before its acks. Ignored without <see cref="SyncFull"/>.
    /// </summary>
    public bool OverlapFlush { get; init; } = true;

    /// <summary>
    /// With <see cref="OverlapFlush"/> on Linux: the flush task syncs the WAL with <c>fdatasync</c> instead of
    /// <c>fsync</c> (same durability for the frames; no timestamp update, so no journal commit while the file does not grow).
    /// Off by default: in quiet same-minute A/Bs the eighth session's settings together (this, 65,536 restart pages, 4
    /// catch-up passes) gave no better p99 and a worse p99.9 than the seventh session's (docs/benchmarks.md, eighth session).
    /// </summary>
    internal bool WalDataSync { get; init; }

    /// <summary>Committed groups waiting for a WAL flush at most (with <see cref="OverlapFlush"/>); the writer waits beyond.</summary>
    public int MaxUnflushedGroups { get; init; } = 16;

    /// <summary>
    /// How often a background connection runs a passive WAL checkpoint when something was committed, so the writer no
    /// longer stops for checkpoints; <see cref="TimeSpan.Zero"/> leaves checkpoints to SQLite's automatic one on the
    /// writer (every 1,000 pages). 10 ms: each pass, and the database sync after it, is then small, and slows the WAL
    /// flushes that acks wait for less than a few large ones (push p99 at 10,000/s on a quiet machine 5.5 ms against
    /// 22-23 ms at 100 ms, same minutes, docs/benchmarks.md, ninth session); an idle store runs none.
    /// </summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// With <see cref="CheckpointInterval"/>: WAL pages at which the writer checkpoints itself (bounds the WAL file: 64 MiB
    /// at the 1 KiB pages of a new store). Far above <see cref="CheckpointRestartPages"/>, so it fires only when restarts fail.
    /// </summary>
    public int CheckpointBackstopPages { get; init; } = 65536;

    /// <summary>
    /// With <see cref="CheckpointInterval"/>: WAL pages after which a background checkpoint asks the writer to restart the
    /// WAL. The writer then checkpoints only the frames committed since (a few groups) between two groups, instead of
    /// SQLite's backstop copying up to an interval's worth of random pages and syncing them while pushes wait. Each restart
    /// stops the writer for two fsyncs and a WAL header sync whatever the WAL's size (docs/mailbox.md, "WAL restarts"),
    /// so a larger WAL means fewer stops; but each stop grows with the WAL (35-76 ms at 65,536 pages against 27-45 ms at
    /// 16,384, quiet machine), and the tail (p99.9) was worse with the larger one, so 16,384 stays (16 MiB at 1 KiB pages).
    /// </summary>
    internal int CheckpointRestartPages { get; init; } = 16384;

    /// <summary>
    /// With <see cref="CheckpointInterval"/>: passive checkpoints the background task runs back to back, once the WAL
    /// reached <see cref="CheckpointRestartPages"/>, before it asks the writer to restart it (each copies what arrived
    /// during the one before; it stops after one shorter than <see cref="RestartCatchUpTarget"/>), so the writer's own
    /// checkpoint finds less to copy and sync. 0: it asks right after its periodic one.
    /// </summary>
    internal int RestartCatchUpPasses { get; init; }

    /// <summary>
    /// With <see cref="CheckpointInterval"/>: the background task syncs the database file after each passive checkpoint
    /// (<c>fdatasync</c> on Linux). A passive checkpoint that leaves frames behind does not sync it, so without this the
    /// writer's restart checkpoint synced every page the background passes had copied since the last restart, 20-30 ms
    /// with pushes waiting; with it, 5-10 ms (docs/benchmarks.md, ninth session). Off only for the
    /// bench's A/B.
    /// </summary>
    internal bool BackgroundDatabaseSync { get; init; } = true;

    /// <summary>A catch-up pass (<see cref="RestartCatchUpPasses"/>) this short ends the catch-up.</summary>
    internal TimeSpan RestartCatchUpTarget { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// SQLite page size of a NEW database file (an existing file keeps the one it was created with). 1 KiB: every push
    /// dirties one random leaf of the blob-id index, and that page is written to the WAL and again by the checkpoint, so
    /// its size sets most of the random bytes the disk must sync per push (docs/mailbox.md, "WAL bytes per push").
    /// </summary>
    internal int PageSize { get; init; } = 1024;

    /// <summary>
    /// Replica: mailboxes with an archive key for which this returns true (given the mailbox id) are trimmed only up
    /// to the cursor an archive pusher reported through <see cref="MailboxStore.SetArchivedUpToAsync"/>, and idle expiry
    /// skips them while they hold blobs past that cursor. Null: no hold.
    /// </summary>
    public Func<byte[], bool>? ArchiveHold { get; init; }

    /// <summary>Bytes counted per blob on top of its data (row, ids, index entries) against <see cref="MaxDbBytes"/>.</summary>
    public const int BlobOverheadBytes = 128;

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DatabasePath)) throw new ArgumentException("the mailbox database path is empty", nameof(DatabasePath));
        if (!Enum.IsDefined(Role)) throw new ArgumentException($"unknown mailbox role {Role}", nameof(Role));
        Positive(DefaultTtl, nameof(DefaultTtl));
        Positive(MaxTtl, nameof(MaxTtl));
        Positive(IdleExpiry, nameof(IdleExpiry));
        if (DefaultTtl > MaxTtl) throw new ArgumentException($"the default TTL {DefaultTtl} exceeds the maximum {MaxTtl}", nameof(DefaultTtl));
        Range(MaxBlobBytes, 1, MailboxProtocol.MaxBlobBytes, nameof(MaxBlobBytes));
        if (MaxMailboxBytes < MaxBlobBytes) throw new ArgumentException("the mailbox byte quota is below one blob", nameof(MaxMailboxBytes));
        Range(MaxMailboxBlobs, 1, MailboxKeys.MaxCursor, nameof(MaxMailboxBlobs));
        Range(MaxMailboxes, 1, (int)Math.Min(int.MaxValue, MailboxKeys.MaxRow), nameof(MaxMailboxes));
        Range(MaxDevicesPerMailbox, 1, 1024, nameof(MaxDevicesPerMailbox));
        Range(MaxRemovedDevicesPerMailbox, 1, 1024, nameof(MaxRemovedDevicesPerMailbox));
        Range(MaxTombstones, 1, 10_000_000, nameof(MaxTombstones));
        Positive(TombstoneLifetime, nameof(TombstoneLifetime));
        if (MaxDbBytes < MaxBlobBytes + BlobOverheadBytes) throw new ArgumentException("the database cap is below one blob", nameof(MaxDbBytes));
        Range(WriteQueueCapacity, 1, 1 << 20, nameof(WriteQueueCapacity));
        Range(MaxBatchOperations, 1, 65_536, nameof(MaxBatchOperations));
        Range(CleanupBatchRows, 1, 100_000, nameof(CleanupBatchRows));
        Positive(CleanupInterval, nameof(CleanupInterval));
        Range(ReadConnections, 1, 64, nameof(ReadConnections));
        Range(MaxUnflushedGroups, 1, 4096, nameof(MaxUnflushedGroups));
        if (CheckpointInterval < TimeSpan.Zero) throw new ArgumentException($"{nameof(CheckpointInterval)} must not be negative (was {CheckpointInterval})", nameof(CheckpointInterval));
        Range(CheckpointBackstopPages, 100, 1_000_000, nameof(CheckpointBackstopPages));
        Range(CheckpointRestartPages, 100, 1_000_000, nameof(CheckpointRestartPages));
        Range(RestartCatchUpPasses, 0, 16, nameof(RestartCatchUpPasses));
        if (RestartCatchUpTarget < TimeSpan.Zero) throw new ArgumentException($"{nameof(RestartCatchUpTarget)} must not be negative", nameof(RestartCatchUpTarget));
        if (PageSize is < 512 or > 65536 || (PageSize & (PageSize - 1)) != 0)
            throw new ArgumentException($"{nameof(PageSize)} must be a power of two within 512..65536 (was {PageSize})", nameof(PageSize));
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero) throw new ArgumentException($"{name} must be positive (was {value})", name);
    }

    private static void Range(long value, long min, long max, string name)
    {
        if (value < min || value > max) throw new ArgumentException($"{name} must be within {min}..{max} (was {value})", name);
    }
}

/// <summary>Blob keys: the mailbox's row in the high bits and its cursor in the low 36, so a mailbox is one key range.</summary>
internal static class MailboxKeys
{
    public const int CursorBits = 36;
    public const long MaxCursor = (1L << CursorBits) - 1;
    public const long MaxRow = (1L << (63 - CursorBits)) - 1;

    public static long Key(long row, ulong cursor) => (row << CursorBits) | (long)cursor;

    public static long First(long row) => row << CursorBits;

    public static long End(long row) => (row + 1) << CursorBits;

    public static long RowOf(long key) => key >> CursorBits;

    public static ulong CursorOf(long key) => (ulong)(key & MaxCursor);
}
