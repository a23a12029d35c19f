using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>A mailbox's read position as this device last committed it.</summary>
/// <param name="Cursor">Last cursor applied (0 = none).</param>
/// <param name="Epoch">The mailbox store's epoch the cursor belongs to (0 = never opened).</param>
public readonly record struct MailboxPosition(ulong Cursor, ulong Epoch);

public sealed partial class GroupStore
{
    /// <summary>Most applied blob ids remembered; the oldest go first. Ids older than any mailbox keeps blobs for
    /// cannot come back, so the bound costs nothing but memory of very old history.</summary>
    public int MaxAppliedIds
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            field = value;
        }
    } = 1_000_000;

    private long? _appliedCount;

    /// <summary>The committed position in one mailbox.</summary>
    public MailboxPosition GetPosition(int generation, string slot)
    {
        lock (_lock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT cursor, epoch FROM cursors WHERE generation = $g AND slot = $slot";
            command.Parameters.AddWithValue("$g", generation);
            command.Parameters.AddWithValue("$slot", slot);
            using var reader = command.ExecuteReader();
            return reader.Read() ? new MailboxPosition((ulong)reader.GetInt64(0), (ulong)reader.GetInt64(1)) : default;
        }
    }

    /// <summary>Whether a blob was applied already (through any mailbox).</summary>
    public bool IsApplied(BlobId blobId)
    {
        lock (_lock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT 1 FROM applied WHERE blob_id = $id";
            command.Parameters.AddWithValue("$id", blobId.Digest.ToArray());
            return command.ExecuteScalar() is not null;
        }
    }

    /// <summary>Applied ids remembered.</summary>
    public long AppliedCount
    {
        get
        {
            lock (_lock) return CountApplied();
        }
    }

    /// <summary>
    /// Commits one page: the ids newly applied and the mailbox's new position, in one transaction. Ids beyond
    /// <see cref="MaxAppliedIds"/> evict the oldest.
    /// </summary>
    public void CommitPage(int generation, string slot, MailboxPosition position, IReadOnlyCollection<BlobId> applied, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(applied);
        lock (_lock)
        {
            var count = CountApplied();
            using var tx = _db.BeginTransaction();
            var added = 0;
            foreach (var id in applied)
            {
                using var insert = _db.CreateCommand();
                insert.Transaction = tx;
                insert.CommandText = "INSERT OR IGNORE INTO applied (blob_id, applied_ms) VALUES ($id, $now)";
                insert.Parameters.AddWithValue("$id", id.Digest.ToArray());
                insert.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                added += insert.ExecuteNonQuery();
            }
            var excess = count + added - MaxAppliedIds;
            if (excess > 0)
                Execute(tx, $"DELETE FROM applied WHERE seq IN (SELECT seq FROM applied ORDER BY seq LIMIT {excess})");
            using (var upsert = _db.CreateCommand())
            {
                upsert.Transaction = tx;
                upsert.CommandText = "INSERT INTO cursors (generation, slot, cursor, epoch) VALUES ($g, $slot, $c, $e) ON CONFLICT(generation, slot) DO UPDATE SET cursor = excluded.cursor, epoch = excluded.epoch";
                upsert.Parameters.AddWithValue("$g", generation);
                upsert.Parameters.AddWithValue("$slot", slot);
                upsert.Parameters.AddWithValue("$c", (long)position.Cursor);
                upsert.Parameters.AddWithValue("$e", (long)position.Epoch);
                upsert.ExecuteNonQuery();
            }
            tx.Commit();
            _appliedCount = count + added - Math.Max(0, excess);
        }
    }

    private long CountApplied()
    {
        if (_appliedCount is { } known) return known;
        using var command = _db.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM applied";
        _appliedCount = (long)command.ExecuteScalar()!;
        return _appliedCount.Value;
    }
}
