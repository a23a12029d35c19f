using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Dht.Storage;

/// <content>Schema creation, migration of older files, and quarantine of corrupt ones.</content>
public sealed partial class SqliteDhtStore
{
    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var store = this;
        await store.ExecuteAsync("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS records (key BLOB PRIMARY KEY, value BLOB NOT NULL, received INTEGER NOT NULL,
                expires INTEGER NOT NULL, own INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS providers (key BLOB NOT NULL, peer BLOB NOT NULL, addrs BLOB NOT NULL,
                expires INTEGER NOT NULL, PRIMARY KEY (key, peer));
            CREATE INDEX IF NOT EXISTS providers_by_peer ON providers (peer);
            CREATE TABLE IF NOT EXISTS routing (peer BLOB PRIMARY KEY, addrs BLOB NOT NULL, last_seen INTEGER NOT NULL);
            """, cancellationToken).ConfigureAwait(false);
        await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
        store._records = await store.ScalarAsync("SELECT COUNT(*) FROM records", cancellationToken).ConfigureAwait(false);
        store._providers = await store.ScalarAsync("SELECT COUNT(*) FROM providers", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds the columns quotas need to a store written by an older version (rows keep working, unattributed).</summary>
    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var columns = new List<string>();
        await using (var command = _connection.CreateCommand())
        {
            command.CommandText = "SELECT name FROM pragma_table_info('records')";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) columns.Add(reader.GetString(0));
        }
        if (!columns.Contains("publisher")) await ExecuteAsync("ALTER TABLE records ADD COLUMN publisher BLOB", cancellationToken).ConfigureAwait(false);
        if (!columns.Contains("ns"))
        {
            await ExecuteAsync("""
                ALTER TABLE records ADD COLUMN ns TEXT NOT NULL DEFAULT '';
                UPDATE records SET ns = CAST(substr(key, 2, instr(substr(key, 2), X'2F') - 1) AS TEXT);
                """, cancellationToken).ConfigureAwait(false);
        }
        await ExecuteAsync("""
            CREATE INDEX IF NOT EXISTS records_by_publisher ON records (publisher) WHERE publisher IS NOT NULL;
            CREATE INDEX IF NOT EXISTS records_by_ns ON records (ns);
            """, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens the store at <paramref name="path"/>; when the file is corrupt (not a database, or failing SQLite's quick
    /// check) it is moved aside to <c>&lt;path&gt;.corrupt-&lt;UTC time&gt;</c> with its WAL and a fresh store is
    /// started: records are re-fetchable from the network, so losing them beats not starting. Returns the store and
    /// the quarantine path (null when the file was sound).
    /// </summary>
    public static async Task<(SqliteDhtStore Store, string? QuarantinedTo)> OpenOrQuarantineAsync(string path, DhtStoreLimits? limits,
        TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(time);
        SqliteDhtStore? store = null;
        try
        {
            store = await OpenAsync(path, limits, cancellationToken).ConfigureAwait(false);
            if (await store.QuickCheckAsync(cancellationToken).ConfigureAwait(false)) return (store, null);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 11 or 26) // SQLITE_CORRUPT, SQLITE_NOTADB
        {
        }
        if (store is not null) await store.DisposeAsync().ConfigureAwait(false);
        SqliteConnection.ClearAllPools();
        var target = $"{path}.corrupt-{time.GetUtcNow():yyyyMMddTHHmmssZ}";
        File.Move(path, target);
        foreach (var suffix in new[] { "-wal", "-shm" })
        {
            if (File.Exists(path + suffix)) File.Move(path + suffix, target + suffix);
        }
        return (await OpenAsync(path, limits, cancellationToken).ConfigureAwait(false), target);
    }

    private async Task<bool> QuickCheckAsync(CancellationToken cancellationToken)
    {
        await using var command = _connection.CreateCommand();
        command.CommandText = "PRAGMA quick_check(1)";
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is "ok";
    }
}
