using KontinuumP2P.Mailbox.Crypto;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>One blob still owed to one mailbox.</summary>
/// <param name="BlobId">The blob.</param>
/// <param name="Generation">The generation whose mailbox it is owed to.</param>
/// <param name="Slot">The mailbox slot.</param>
/// <param name="Attempts">Failed attempts so far.</param>
/// <param name="NextAttempt">When it is due again.</param>
/// <param name="LastError">Why the last attempt failed.</param>
public sealed record OutboxEntry(BlobId BlobId, int Generation, string Slot, int Attempts, DateTimeOffset NextAttempt, string? LastError);

public sealed partial class GroupStore
{
    /// <summary>Stores a sealed blob and one outbox row per slot, in one transaction, before any push is tried: a crash
    /// after this point loses nothing.</summary>
    public void Enqueue(SealedBlob blob, int generation, IEnumerable<string> slots, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(slots);
        lock (_lock)
        {
            using var tx = _db.BeginTransaction();
            using (var insert = _db.CreateCommand())
            {
                insert.Transaction = tx;
                insert.CommandText = "INSERT OR IGNORE INTO blobs (blob_id, data, created_ms) VALUES ($id, $data, $now)";
                insert.Parameters.AddWithValue("$id", blob.Id.Digest.ToArray());
                insert.Parameters.AddWithValue("$data", blob.Bytes);
                insert.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                insert.ExecuteNonQuery();
            }
            foreach (var slot in slots)
            {
                using var row = _db.CreateCommand();
                row.Transaction = tx;
                row.CommandText = "INSERT OR IGNORE INTO outbox (blob_id, generation, slot, attempts, next_attempt_ms) VALUES ($id, $g, $slot, 0, $now)";
                row.Parameters.AddWithValue("$id", blob.Id.Digest.ToArray());
                row.Parameters.AddWithValue("$g", generation);
                row.Parameters.AddWithValue("$slot", slot);
                row.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                row.ExecuteNonQuery();
            }
            tx.Commit();
        }
    }

    /// <summary>A mailbox acknowledged the blob durably: its row goes, and the blob once no mailbox is owed it.</summary>
    public void MarkDelivered(BlobId blobId, int generation, string slot)
    {
        lock (_lock)
        {
            using var tx = _db.BeginTransaction();
            using (var delete = _db.CreateCommand())
            {
                delete.Transaction = tx;
                delete.CommandText = "DELETE FROM outbox WHERE blob_id = $id AND generation = $g AND slot = $slot";
                delete.Parameters.AddWithValue("$id", blobId.Digest.ToArray());
                delete.Parameters.AddWithValue("$g", generation);
                delete.Parameters.AddWithValue("$slot", slot);
                delete.ExecuteNonQuery();
            }
            DeleteBlobIfUnowed(tx, blobId);
            tx.Commit();
        }
    }

    /// <summary>An attempt failed: counts it and sets when the row is due again.</summary>
    public void MarkFailed(BlobId blobId, int generation, string slot, DateTimeOffset nextAttempt, string error)
    {
        lock (_lock)
        {
            using var update = _db.CreateCommand();
            update.CommandText = "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = $next, last_error = $e WHERE blob_id = $id AND generation = $g AND slot = $slot";
            update.Parameters.AddWithValue("$id", blobId.Digest.ToArray());
            update.Parameters.AddWithValue("$g", generation);
            update.Parameters.AddWithValue("$slot", slot);
            update.Parameters.AddWithValue("$next", nextAttempt.ToUnixTimeMilliseconds());
            update.Parameters.AddWithValue("$e", error.Length > 500 ? error[..500] : error);
            update.ExecuteNonQuery();
        }
    }

    /// <summary>Rows due at <paramref name="now"/> (all rows when <paramref name="now"/> is null), oldest due first.</summary>
    public IReadOnlyList<OutboxEntry> DueEntries(DateTimeOffset? now, int limit)
    {
        lock (_lock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT blob_id, generation, slot, attempts, next_attempt_ms, last_error FROM outbox WHERE next_attempt_ms <= $now ORDER BY next_attempt_ms LIMIT $limit";
            command.Parameters.AddWithValue("$now", now?.ToUnixTimeMilliseconds() ?? long.MaxValue);
            command.Parameters.AddWithValue("$limit", limit);
            return ReadEntries(command);
        }
    }

    /// <summary>Every outbox row (for status and tests), bounded by <paramref name="limit"/>.</summary>
    public IReadOnlyList<OutboxEntry> OutboxEntries(int limit = 100_000) => DueEntries(null, limit);

    /// <summary>Outbox rows in total, or for one (generation, slot).</summary>
    public int OutboxCount(int? generation = null, string? slot = null)
    {
        lock (_lock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = generation is null
                ? "SELECT COUNT(*) FROM outbox"
                : "SELECT COUNT(*) FROM outbox WHERE generation = $g AND slot = $slot";
            command.Parameters.AddWithValue("$g", generation ?? 0);
            command.Parameters.AddWithValue("$slot", slot ?? "");
            return Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Earliest time a row is due, or null when the outbox is empty.</summary>
    public DateTimeOffset? NextDue()
    {
        lock (_lock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT MIN(next_attempt_ms) FROM outbox";
            return command.ExecuteScalar() is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
        }
    }

    /// <summary>The sealed bytes of an outbox blob, or null when none is owed any more.</summary>
    public byte[]? ReadBlob(BlobId blobId)
    {
        lock (_lock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT data FROM blobs WHERE blob_id = $id";
            command.Parameters.AddWithValue("$id", blobId.Digest.ToArray());
            return command.ExecuteScalar() as byte[];
        }
    }

    /// <summary>Rotation: every blob still owed to an older generation's mailboxes is owed to the current one's instead.</summary>
    /// <returns>How many blobs were moved.</returns>
    public int MoveOutboxToCurrent(DateTimeOffset now)
    {
        lock (_lock)
        {
            var current = _generations[^1];
            using var tx = _db.BeginTransaction();
            var ids = new List<byte[]>();
            using (var select = _db.CreateCommand())
            {
                select.Transaction = tx;
                select.CommandText = "SELECT DISTINCT blob_id FROM outbox WHERE generation < $g";
                select.Parameters.AddWithValue("$g", current.Number);
                using var reader = select.ExecuteReader();
                while (reader.Read()) ids.Add((byte[])reader[0]);
            }
            foreach (var id in ids)
            {
                foreach (var slot in current.Slots)
                {
                    using var row = _db.CreateCommand();
                    row.Transaction = tx;
                    row.CommandText = "INSERT OR IGNORE INTO outbox (blob_id, generation, slot, attempts, next_attempt_ms) VALUES ($id, $g, $slot, 0, $now)";
                    row.Parameters.AddWithValue("$id", id);
                    row.Parameters.AddWithValue("$g", current.Number);
                    row.Parameters.AddWithValue("$slot", slot);
                    row.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                    row.ExecuteNonQuery();
                }
            }
            Execute(tx, $"DELETE FROM outbox WHERE generation < {current.Number}");
            tx.Commit();
            return ids.Count;
        }
    }

    private void DeleteBlobIfUnowed(SqliteTransaction tx, BlobId blobId)
    {
        using var delete = _db.CreateCommand();
        delete.Transaction = tx;
        delete.CommandText = "DELETE FROM blobs WHERE blob_id = $id AND NOT EXISTS (SELECT 1 FROM outbox WHERE blob_id = $id)";
        delete.Parameters.AddWithValue("$id", blobId.Digest.ToArray());
        delete.ExecuteNonQuery();
    }

    private static List<OutboxEntry> ReadEntries(SqliteCommand command)
    {
        var entries = new List<OutboxEntry>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            entries.Add(new OutboxEntry(BlobId.FromDigest((byte[])reader[0]), reader.GetInt32(1), reader.GetString(2), reader.GetInt32(3),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)), reader.IsDBNull(5) ? null : reader.GetString(5)));
        }
        return entries;
    }
}
