using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>
/// A replacement mailbox being re-seeded from the union of its survivors (persisted, so a restart resumes where it
/// stopped): survivors are read one after another; <paramref name="Done"/> lists those read to the end.
/// </summary>
/// <param name="Generation">The generation of the slot.</param>
/// <param name="Slot">The slot whose node changed.</param>
/// <param name="Target">The node now serving the slot (the one being seeded).</param>
/// <param name="Survivor">The slot read from, once chosen.</param>
/// <param name="Epoch">The survivor's epoch the cursor belongs to.</param>
/// <param name="Cursor">The survivor's cursor up to which every blob was reconciled.</param>
/// <param name="Pushed">Blobs pushed to the target so far.</param>
/// <param name="Done">Survivor slots already reconciled to the end (null = none).</param>
internal sealed record ReseedJob(int Generation, string Slot, string Target, string? Survivor, ulong Epoch, ulong Cursor, long Pushed,
    IReadOnlyList<string>? Done = null)
{
    /// <summary>Whether <paramref name="survivor"/> was read to the end already.</summary>
    public bool IsDone(string survivor) => Done?.Contains(survivor, StringComparer.Ordinal) == true;
}

public sealed partial class GroupStore
{
    private bool _reseedSchema;

    /// <summary>The node last reached for a slot (null when none was reached yet).</summary>
    internal string? KnownPeer(int generation, string slot)
    {
        lock (_lock)
        {
            EnsureReseedSchema();
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT peer FROM slot_peers WHERE generation = $g AND slot = $s";
            command.Parameters.AddWithValue("$g", generation);
            command.Parameters.AddWithValue("$s", slot);
            return command.ExecuteScalar() as string;
        }
    }

    /// <summary>
    /// Records that <paramref name="peer"/> serves the slot now. When another node served it before, the slot moved: a
    /// re-seed job for the new node is recorded in the same transaction (replacing an unfinished one) and returned.
    /// </summary>
    internal ReseedJob? ObservePeer(int generation, string slot, string peer)
    {
        lock (_lock)
        {
            EnsureReseedSchema();
            using var tx = _db.BeginTransaction();
            string? previous;
            using (var read = _db.CreateCommand())
            {
                read.Transaction = tx;
                read.CommandText = "SELECT peer FROM slot_peers WHERE generation = $g AND slot = $s";
                read.Parameters.AddWithValue("$g", generation);
                read.Parameters.AddWithValue("$s", slot);
                previous = read.ExecuteScalar() as string;
            }
            if (previous == peer) return null;
            using (var write = _db.CreateCommand())
            {
                write.Transaction = tx;
                write.CommandText = "INSERT INTO slot_peers (generation, slot, peer) VALUES ($g, $s, $p) ON CONFLICT(generation, slot) DO UPDATE SET peer = excluded.peer";
                write.Parameters.AddWithValue("$g", generation);
                write.Parameters.AddWithValue("$s", slot);
                write.Parameters.AddWithValue("$p", peer);
                write.ExecuteNonQuery();
            }
            ReseedJob? job = null;
            if (previous is not null)
            {
                job = new ReseedJob(generation, slot, peer, null, 0, 0, 0);
                SaveReseed(tx, job);
                // The mailbox on the node the slot left is emptied into the new node and closed after the re-seed.
                AddRetire(tx, generation, slot, previous, DateTimeOffset.UnixEpoch); // due at once
            }
            tx.Commit();
            return job;
        }
    }

    /// <summary>Unfinished re-seed jobs, oldest generation first.</summary>
    internal IReadOnlyList<ReseedJob> ReseedJobs()
    {
        lock (_lock)
        {
            EnsureReseedSchema();
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT generation, slot, target, survivor, epoch, cursor, pushed, done FROM reseed ORDER BY generation, slot";
            using var reader = command.ExecuteReader();
            var jobs = new List<ReseedJob>();
            while (reader.Read())
                jobs.Add(new ReseedJob(reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                    (ulong)reader.GetInt64(4), (ulong)reader.GetInt64(5), reader.GetInt64(6),
                    reader.IsDBNull(7) ? null : reader.GetString(7).Split('\n', StringSplitOptions.RemoveEmptyEntries)));
            return jobs;
        }
    }

    /// <summary>Saves a job's progress (after each reconciled page).</summary>
    internal void SaveReseed(ReseedJob job)
    {
        lock (_lock)
        {
            EnsureReseedSchema();
            SaveReseed(null, job);
        }
    }

    /// <summary>The job is done (or abandoned): forget it, unless the slot moved again meanwhile (another target).</summary>
    internal void CompleteReseed(ReseedJob job)
    {
        lock (_lock)
        {
            EnsureReseedSchema();
            using var command = _db.CreateCommand();
            command.CommandText = "DELETE FROM reseed WHERE generation = $g AND slot = $s AND target = $t";
            command.Parameters.AddWithValue("$g", job.Generation);
            command.Parameters.AddWithValue("$s", job.Slot);
            command.Parameters.AddWithValue("$t", job.Target);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>Ids of the sealed blobs this device still holds (its own, not yet acknowledged everywhere), at most <paramref name="max"/>.</summary>
    internal IReadOnlyList<BlobId> LocalBlobIds(int max)
    {
        lock (_lock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT blob_id FROM blobs ORDER BY created_ms LIMIT $m";
            command.Parameters.AddWithValue("$m", max);
            using var reader = command.ExecuteReader();
            var ids = new List<BlobId>();
            while (reader.Read())
            {
                var raw = (byte[])reader[0];
                if (raw.Length == BlobId.Length) ids.Add(BlobId.FromDigest(raw));
            }
            return ids;
        }
    }

    private void SaveReseed(Microsoft.Data.Sqlite.SqliteTransaction? tx, ReseedJob job)
    {
        using var command = _db.CreateCommand();
        command.Transaction = tx;
        command.CommandText = """
            INSERT INTO reseed (generation, slot, target, survivor, epoch, cursor, pushed, done) VALUES ($g, $s, $t, $v, $e, $c, $p, $d)
            ON CONFLICT(generation, slot) DO UPDATE SET target = excluded.target, survivor = excluded.survivor, epoch = excluded.epoch,
                cursor = excluded.cursor, pushed = excluded.pushed, done = excluded.done
            """;
        command.Parameters.AddWithValue("$g", job.Generation);
        command.Parameters.AddWithValue("$s", job.Slot);
        command.Parameters.AddWithValue("$t", job.Target);
        command.Parameters.AddWithValue("$v", (object?)job.Survivor ?? DBNull.Value);
        command.Parameters.AddWithValue("$e", (long)job.Epoch);
        command.Parameters.AddWithValue("$c", (long)job.Cursor);
        command.Parameters.AddWithValue("$p", job.Pushed);
        command.Parameters.AddWithValue("$d", job.Done is { Count: > 0 } done ? string.Join('\n', done) : DBNull.Value);
        command.ExecuteNonQuery();
    }

    // Created on first use: group directories made before re-seeding existed gain the tables when opened.
    private void EnsureReseedSchema()
    {
        if (_reseedSchema) return;
        Execute(null, """
            CREATE TABLE IF NOT EXISTS slot_peers (generation INTEGER NOT NULL, slot TEXT NOT NULL, peer TEXT NOT NULL, PRIMARY KEY (generation, slot));
            CREATE TABLE IF NOT EXISTS reseed (generation INTEGER NOT NULL, slot TEXT NOT NULL, target TEXT NOT NULL, survivor TEXT,
                epoch INTEGER NOT NULL, cursor INTEGER NOT NULL, pushed INTEGER NOT NULL, done TEXT, PRIMARY KEY (generation, slot));
            CREATE TABLE IF NOT EXISTS retire_old (generation INTEGER NOT NULL, slot TEXT NOT NULL, peer TEXT NOT NULL, attempts INTEGER NOT NULL,
                next_at INTEGER NOT NULL, PRIMARY KEY (generation, slot, peer));
            """);
        // Directories from before multi-survivor re-seeding have the table without the column.
        using (var columns = _db.CreateCommand())
        {
            columns.CommandText = "SELECT COUNT(*) FROM pragma_table_info('reseed') WHERE name = 'done'";
            if ((long)columns.ExecuteScalar()! == 0) Execute(null, "ALTER TABLE reseed ADD COLUMN done TEXT");
        }
        _reseedSchema = true;
    }
}
