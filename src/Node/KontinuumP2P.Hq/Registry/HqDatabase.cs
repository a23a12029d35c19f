using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Hq.Registry;

/// <summary>
/// HQ's SQLite file (WAL): fleet registry, groups, spare identities, enrollment tokens, signing requests and the
/// audit log, in one database so a backup is one consistent copy.
/// </summary>
public sealed class HqDatabase : IDisposable
{
    /// <summary>File name inside the data directory.</summary>
    public const string FileName = "hq.db";

    // 2: provision_attempts (provisioning failures survive a restart). 3: drains. Older files are migrated on open.
    private const int SchemaVersion = 3;

    private readonly SqliteConnection _connection;
    private readonly Lock _lock = new();

    private HqDatabase(SqliteConnection connection, string path)
    {
        _connection = connection;
        Path = path;
    }

    /// <summary>Path of the database file.</summary>
    public string Path { get; }

    /// <summary>Opens (creating when absent) the database in <paramref name="dataDirectory"/>.</summary>
    /// <exception cref="InvalidDataException">The file has another schema version.</exception>
    public static HqDatabase Open(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = System.IO.Path.Combine(dataDirectory, FileName);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        try
        {
            Execute(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
            Execute(connection, """
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS slots(
                  slot TEXT PRIMARY KEY, node_id TEXT NOT NULL, provider TEXT NOT NULL, region TEXT NOT NULL,
                  role INTEGER NOT NULL, status INTEGER NOT NULL, capacity INTEGER NOT NULL, sequence INTEGER NOT NULL,
                  updated_at INTEGER NOT NULL, level INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE IF NOT EXISTS groups(group_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS group_slots(
                  group_id TEXT NOT NULL REFERENCES groups(group_id), slot TEXT NOT NULL REFERENCES slots(slot),
                  PRIMARY KEY(group_id, slot));
                CREATE INDEX IF NOT EXISTS group_slots_by_slot ON group_slots(slot);
                CREATE TABLE IF NOT EXISTS spares(
                  id TEXT PRIMARY KEY, provider TEXT NOT NULL, region TEXT NOT NULL, directory TEXT NOT NULL,
                  used_by TEXT);
                CREATE TABLE IF NOT EXISTS slot_splits(
                  slot TEXT NOT NULL REFERENCES slots(slot), position INTEGER NOT NULL, provider TEXT NOT NULL,
                  host_slot TEXT NOT NULL, node_id TEXT NOT NULL, groups INTEGER NOT NULL, PRIMARY KEY(slot, position));
                CREATE TABLE IF NOT EXISTS audit(
                  seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                  detail TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL, signature BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS enrollment_tokens(
                  token_hash BLOB PRIMARY KEY, label TEXT NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);
                CREATE TABLE IF NOT EXISTS signing_requests(
                  id TEXT PRIMARY KEY, kind INTEGER NOT NULL, draft BLOB NOT NULL, subject TEXT NOT NULL,
                  status INTEGER NOT NULL, result BLOB, created_at INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS partial_signatures(
                  request_id TEXT NOT NULL REFERENCES signing_requests(id), anchor_key BLOB NOT NULL, partial BLOB NOT NULL,
                  PRIMARY KEY(request_id, anchor_key));
                CREATE TABLE IF NOT EXISTS revoked(node_id BLOB PRIMARY KEY, reason INTEGER NOT NULL, at INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS provision_attempts(
                  slot TEXT PRIMARY KEY, attempts INTEGER NOT NULL, next_at INTEGER NOT NULL, abandoned INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS drains(
                  slot TEXT NOT NULL, old_node TEXT NOT NULL, new_node TEXT NOT NULL, spare_id TEXT, role INTEGER NOT NULL,
                  started_at INTEGER NOT NULL, ttl_ms INTEGER NOT NULL, delivered INTEGER NOT NULL, report_at INTEGER,
                  report_open INTEGER, report_with_blobs INTEGER, finished_at INTEGER, outcome TEXT, stopped INTEGER NOT NULL DEFAULT 0,
                  PRIMARY KEY(slot, old_node));
                """);
            using (var cmd = connection.CreateCommand())
            {
                cmd.CommandText = "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', $v); SELECT value FROM meta WHERE key = 'schema';";
                cmd.Parameters.AddWithValue("$v", SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
                var version = (string)cmd.ExecuteScalar()!;
                // 1 -> 2 -> 3 only add tables, which the CREATE above already made.
                if (version is "1" or "2") version = Migrate(connection, SchemaVersion);
                if (version != SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
                    throw new InvalidDataException($"{path}: HQ database schema {version}, this build reads {SchemaVersion}");
            }
            return new HqDatabase(connection, path);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="work"/> in one transaction under the database lock.</summary>
    public T InTransaction<T>(Func<SqliteConnection, SqliteTransaction, T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        lock (_lock)
        {
            using var tx = _connection.BeginTransaction();
            var result = work(_connection, tx);
            tx.Commit();
            return result;
        }
    }

    /// <summary>Runs a read under the database lock.</summary>
    public T Read<T>(Func<SqliteConnection, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        lock (_lock) return read(_connection);
    }

    /// <summary>Writes a consistent copy of the whole database to <paramref name="destinationFile"/> (SQLite online backup).</summary>
    public void BackupTo(string destinationFile)
    {
        var full = System.IO.Path.GetFullPath(destinationFile);
        if (File.Exists(full)) throw new IOException($"{full} exists; a backup never overwrites");
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        using var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = full, Pooling = false }.ToString());
        destination.Open();
        lock (_lock) _connection.BackupDatabase(destination);
    }

    /// <summary>
    /// Restores a backup into an EMPTY data directory (HQ must not be running on it): copies the file, then opens it
    /// to check its schema.
    /// </summary>
    public static HqDatabase RestoreFrom(string backupFile, string dataDirectory)
    {
        if (!File.Exists(backupFile)) throw new FileNotFoundException($"backup {backupFile} does not exist", backupFile);
        var target = System.IO.Path.Combine(dataDirectory, FileName);
        if (File.Exists(target)) throw new IOException($"{target} exists; restore only into a data directory without an HQ database");
        Directory.CreateDirectory(dataDirectory);
        File.Copy(backupFile, target);
        return Open(dataDirectory);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock) _connection.Dispose();
    }

    private static string Migrate(SqliteConnection connection, int to)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "UPDATE meta SET value = $v WHERE key = 'schema'";
        var version = to.ToString(System.Globalization.CultureInfo.InvariantCulture);
        cmd.Parameters.AddWithValue("$v", version);
        cmd.ExecuteNonQuery();
        return version;
    }

    internal static void Execute(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
