using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// 0k-sync's relay storage path rebuilt on the same SQLite for a same-run baseline: each push is two autocommits (bump
/// the group's cursor row, then insert the blob) with a random 16-byte key, touching five B-trees (cursor table, blob
/// table, the key's unique index, (group, cursor) and expiry indexes). Same journal and sync settings as ours.
/// </summary>
internal sealed class ZeroKSyncBaseline : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _bump;
    private readonly SqliteCommand _insert;

    public ZeroKSyncBaseline(string path, bool syncFull)
    {
        _connection = new SqliteConnection($"Data Source={path};Pooling=False");
        _connection.Open();
        using (var setup = _connection.CreateCommand())
        {
            setup.CommandText = $"""
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous={(syncFull ? "FULL" : "NORMAL")};
                CREATE TABLE IF NOT EXISTS cursors (group_id BLOB PRIMARY KEY, next_cursor INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS blobs (id BLOB NOT NULL UNIQUE, group_id BLOB NOT NULL, cursor INTEGER NOT NULL,
                    data BLOB NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL);
                CREATE INDEX IF NOT EXISTS blobs_by_group ON blobs (group_id, cursor);
                CREATE INDEX IF NOT EXISTS blobs_by_expiry ON blobs (expires);
                """;
            setup.ExecuteNonQuery();
            setup.CommandText = "PRAGMA synchronous";
            var applied = (long)setup.ExecuteScalar()!;
            if (applied != (syncFull ? 2 : 1)) throw new InvalidOperationException($"baseline synchronous is {applied}");
        }
        _bump = _connection.CreateCommand();
        _bump.CommandText = """
            INSERT INTO cursors (group_id, next_cursor) VALUES ($g, 1)
            ON CONFLICT (group_id) DO UPDATE SET next_cursor = next_cursor + 1 RETURNING next_cursor
            """;
        _bump.Parameters.Add(new SqliteParameter("$g", null));
        _insert = _connection.CreateCommand();
        _insert.CommandText = "INSERT INTO blobs (id, group_id, cursor, data, created, expires) VALUES ($id, $g, $c, $d, $now, $exp)";
        foreach (var name in new[] { "$id", "$g", "$c", "$d", "$now", "$exp" }) _insert.Parameters.Add(new SqliteParameter(name, null));
    }

    /// <summary>Pushes <paramref name="count"/> blobs one after the other; returns per-push latencies in ms and the elapsed time.</summary>
    public (double[] LatenciesMs, TimeSpan Elapsed) Run(int count, byte[] groupId, byte[] blob)
    {
        var latencies = new double[count];
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            _bump.Parameters[0].Value = groupId;
            var cursor = (long)_bump.ExecuteScalar()!; // autocommit 1
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            _insert.Parameters[0].Value = RandomNumberGenerator.GetBytes(16);
            _insert.Parameters[1].Value = groupId;
            _insert.Parameters[2].Value = cursor;
            _insert.Parameters[3].Value = blob;
            _insert.Parameters[4].Value = now;
            _insert.Parameters[5].Value = now + 7 * 86_400_000L;
            _insert.ExecuteNonQuery(); // autocommit 2
            latencies[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        return (latencies, Stopwatch.GetElapsedTime(started));
    }

    public void Dispose()
    {
        _bump.Dispose();
        _insert.Dispose();
        _connection.Dispose();
    }
}
