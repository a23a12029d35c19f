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

    private HashSet<BlobId>? _applied;

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

    /// <summary>Whether a blob was applied already (through any mailbox). Answered from memory: the set mirrors the
    /// table and is loaded once.</summary>
    public bool IsApplied(BlobId blobId)
    {
        lock (_lock) return AppliedSet().Contains(blobId);
    }

    /// <summary>Applied ids remembered.</summary>
    public long AppliedCount
    {
        get
        {
            lock (_lock) return AppliedSet().Count;
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
            var set = AppliedSet();
            var fresh = applied.Where(id => !set.Contains(id)).Distinct().ToList();
            var evicted = new List<BlobId>();
            using var tx = _db.BeginTransaction();
            if (fresh.Count > 0)
            {
                using var insert = _db.CreateCommand();
                insert.Transaction = tx;
                insert.CommandText = "INSERT OR IGNORE INTO applied (blob_id, applied_ms) VALUES ($id, $now)";
                var id = insert.Parameters.Add("$id", Microsoft.Data.Sqlite.SqliteType.Blob);
                insert.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                insert.Prepare();
                foreach (var blobId in fresh)
                {
                    id.Value = blobId.Digest.ToArray();
                    insert.ExecuteNonQuery();
                }
            }
            var excess = set.Count + fresh.Count - MaxAppliedIds;
            if (excess > 0)
            {
                using var oldest = _db.CreateCommand();
                oldest.Transaction = tx;
                oldest.CommandText = $"DELETE FROM applied WHERE seq IN (SELECT seq FROM applied ORDER BY seq LIMIT {excess}) RETURNING blob_id";
                using var reader = oldest.ExecuteReader();
                while (reader.Read()) evicted.Add(BlobId.FromDigest((byte[])reader[0]));
            }
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
            // Memory follows the table only once the commit succeeded.
            foreach (var blobId in fresh) set.Add(blobId);
            foreach (var blobId in evicted) set.Remove(blobId);
        }
    }

    private HashSet<BlobId> AppliedSet()
    {
        if (_applied is { } known) return known;
        var set = new HashSet<BlobId>();
        using var command = _db.CreateCommand();
        command.CommandText = "SELECT blob_id FROM applied";
        using var reader = command.ExecuteReader();
        while (reader.Read()) set.Add(BlobId.FromDigest((byte[])reader[0]));
        _applied = set;
        return set;
    }
}
