namespace KontinuumP2P.Mailbox.Client;

/// <summary>An old mailbox a rotation still has to close (persisted, so a restart goes on trying).</summary>
/// <param name="Generation">Its generation.</param>
/// <param name="Slot">Its slot.</param>
/// <param name="Attempts">Failed attempts so far.</param>
/// <param name="NextAttempt">When it is due.</param>
/// <param name="LastError">Why the last attempt failed.</param>
internal sealed record PendingClosure(int Generation, string Slot, int Attempts, DateTimeOffset NextAttempt, string? LastError);

public sealed partial class GroupStore
{
    /// <summary>
    /// Most pending closures kept: 8 rotations of the largest group. Rotations are local actions, but a device offline
    /// across many of them must not grow the table without end; past the bound the oldest generation's rows go first
    /// (<c>group close-old</c> still closes every old generation by hand).
    /// </summary>
    internal const int MaxPendingClosures = 8 * Crypto.Invite.MaxSlots;

    private bool _closureSchema;

    /// <summary>Records old mailboxes to close (due at once; rows already pending keep their backoff).</summary>
    /// <returns>Rows evicted to stay within <see cref="MaxPendingClosures"/>.</returns>
    internal int AddPendingClosures(IEnumerable<(int Generation, string Slot)> mailboxes, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(mailboxes);
        lock (_lock)
        {
            EnsureClosureSchema();
            using var tx = _db.BeginTransaction();
            foreach (var (generation, slot) in mailboxes)
            {
                using var insert = _db.CreateCommand();
                insert.Transaction = tx;
                insert.CommandText = "INSERT OR IGNORE INTO pending_closures (generation, slot, attempts, next_attempt_ms, last_error) VALUES ($g, $s, 0, $n, NULL)";
                insert.Parameters.AddWithValue("$g", generation);
                insert.Parameters.AddWithValue("$s", slot);
                insert.Parameters.AddWithValue("$n", now.ToUnixTimeMilliseconds());
                insert.ExecuteNonQuery();
            }
            using var evict = _db.CreateCommand();
            evict.Transaction = tx;
            evict.CommandText = """
                DELETE FROM pending_closures WHERE rowid IN (
                    SELECT rowid FROM pending_closures ORDER BY generation, slot
                    LIMIT max(0, (SELECT count(*) FROM pending_closures) - $max))
                """;
            evict.Parameters.AddWithValue("$max", MaxPendingClosures);
            var evicted = evict.ExecuteNonQuery();
            tx.Commit();
            return evicted;
        }
    }

    /// <summary>Pending closures, oldest generation first.</summary>
    internal IReadOnlyList<PendingClosure> PendingClosures()
    {
        lock (_lock)
        {
            EnsureClosureSchema();
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT generation, slot, attempts, next_attempt_ms, last_error FROM pending_closures ORDER BY generation, slot";
            using var reader = command.ExecuteReader();
            var list = new List<PendingClosure>();
            while (reader.Read())
            {
                list.Add(new PendingClosure(reader.GetInt32(0), reader.GetString(1), reader.GetInt32(2),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)), reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
            return list;
        }
    }

    /// <summary>The mailbox is closed (or was already): forget it.</summary>
    internal void CompleteClosure(int generation, string slot)
    {
        lock (_lock)
        {
            EnsureClosureSchema();
            using var command = _db.CreateCommand();
            command.CommandText = "DELETE FROM pending_closures WHERE generation = $g AND slot = $s";
            command.Parameters.AddWithValue("$g", generation);
            command.Parameters.AddWithValue("$s", slot);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>A closing attempt failed: counts it and schedules the next (only for a row still pending).</summary>
    internal void FailClosure(int generation, string slot, DateTimeOffset next, string error)
    {
        lock (_lock)
        {
            EnsureClosureSchema();
            using var command = _db.CreateCommand();
            command.CommandText = "UPDATE pending_closures SET attempts = attempts + 1, next_attempt_ms = $n, last_error = $e WHERE generation = $g AND slot = $s";
            command.Parameters.AddWithValue("$g", generation);
            command.Parameters.AddWithValue("$s", slot);
            command.Parameters.AddWithValue("$n", next.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$e", error.Length > 500 ? error[..500] : error);
            command.ExecuteNonQuery();
        }
    }

    private void EnsureClosureSchema()
    {
        if (_closureSchema) return;
        Execute(null, """
            CREATE TABLE IF NOT EXISTS pending_closures (generation INTEGER NOT NULL, slot TEXT NOT NULL, attempts INTEGER NOT NULL,
                next_attempt_ms INTEGER NOT NULL, last_error TEXT, PRIMARY KEY (generation, slot));
            """);
        _closureSchema = true;
    }
}
