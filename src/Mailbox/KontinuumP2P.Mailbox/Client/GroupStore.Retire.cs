namespace KontinuumP2P.Mailbox.Client;

/// <summary>A mailbox left on the node a slot moved away from, to be emptied into the new node and closed.</summary>
/// <param name="Generation">Generation of the slot.</param>
/// <param name="Slot">The slot.</param>
/// <param name="Peer">The node the slot left.</param>
/// <param name="Attempts">Failed attempts so far.</param>
/// <param name="NextAttempt">When the next attempt is due.</param>
internal sealed record RetireRow(int Generation, string Slot, string Peer, int Attempts, DateTimeOffset NextAttempt);

public sealed partial class GroupStore
{
    /// <summary>Most moved-away mailboxes remembered (8 rotations × 3 slots); the oldest generation goes first.</summary>
    internal const int MaxRetireRows = 24;

    /// <summary>Moved-away mailboxes still to close, oldest first.</summary>
    internal IReadOnlyList<RetireRow> RetireRows()
    {
        lock (_lock)
        {
            EnsureReseedSchema();
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT generation, slot, peer, attempts, next_at FROM retire_old ORDER BY generation, slot, peer";
            using var reader = command.ExecuteReader();
            var rows = new List<RetireRow>();
            while (reader.Read())
                rows.Add(new RetireRow(reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4))));
            return rows;
        }
    }

    /// <summary>Records a moved-away mailbox (inside <see cref="ObservePeer"/>'s transaction), evicting the oldest past the bound.</summary>
    private void AddRetire(Microsoft.Data.Sqlite.SqliteTransaction tx, int generation, string slot, string peer, DateTimeOffset now)
    {
        using var insert = _db.CreateCommand();
        insert.Transaction = tx;
        insert.CommandText = """
            INSERT OR IGNORE INTO retire_old (generation, slot, peer, attempts, next_at) VALUES ($g, $s, $p, 0, $t);
            DELETE FROM retire_old WHERE rowid IN (SELECT rowid FROM retire_old ORDER BY generation DESC, next_at DESC LIMIT -1 OFFSET $max);
            """;
        insert.Parameters.AddWithValue("$g", generation);
        insert.Parameters.AddWithValue("$s", slot);
        insert.Parameters.AddWithValue("$p", peer);
        insert.Parameters.AddWithValue("$t", now.ToUnixTimeMilliseconds());
        insert.Parameters.AddWithValue("$max", MaxRetireRows);
        insert.ExecuteNonQuery();
    }

    /// <summary>The mailbox was closed (or needs no closing): forget it.</summary>
    internal void CompleteRetire(RetireRow row) => UpdateRetire("DELETE FROM retire_old WHERE generation = $g AND slot = $s AND peer = $p", row, 0, default);

    /// <summary>An attempt failed: try again at <paramref name="next"/>.</summary>
    internal void FailRetire(RetireRow row, DateTimeOffset next) =>
        UpdateRetire("UPDATE retire_old SET attempts = $a, next_at = $t WHERE generation = $g AND slot = $s AND peer = $p", row, row.Attempts + 1, next);

    private void UpdateRetire(string sql, RetireRow row, int attempts, DateTimeOffset next)
    {
        lock (_lock)
        {
            EnsureReseedSchema();
            using var command = _db.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$g", row.Generation);
            command.Parameters.AddWithValue("$s", row.Slot);
            command.Parameters.AddWithValue("$p", row.Peer);
            command.Parameters.AddWithValue("$a", attempts);
            command.Parameters.AddWithValue("$t", next.ToUnixTimeMilliseconds());
            command.ExecuteNonQuery();
        }
    }
}
