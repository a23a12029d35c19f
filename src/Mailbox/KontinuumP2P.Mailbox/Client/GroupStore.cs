using System.Security.Cryptography;
using KontinuumP2P.Mailbox.Crypto;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>
/// One device's state of one group, in <c>GROUPDIR/group.db</c> (SQLite, WAL, synchronous NORMAL: a killed process loses nothing committed; a power cut may lose the last commits, which only repeats pushes and pulls): the group secrets of
/// every generation (rotation adds one), the device secret, the persistent outbox, per-mailbox (cursor, epoch) and the
/// set of applied blob ids. A cursor moves only in the same transaction as the ids it applied, so a crash replays at
/// most an uncommitted page and the id set drops what was applied already. Thread-safe (one connection under a lock).
/// The file holds the group secret: the directory is created owner-only.
/// </summary>
public sealed partial class GroupStore : IDisposable
{
    /// <summary>The database file name inside the group directory.</summary>
    public const string FileName = "group.db";

    private readonly SqliteConnection _db;
    private readonly Lock _lock = new();
    private readonly List<Generation> _generations = [];

    private GroupStore(string directory, SqliteConnection db)
    {
        Directory = directory;
        _db = db;
    }

    /// <summary>The group directory.</summary>
    public string Directory { get; }

    /// <summary>The network the group lives on.</summary>
    public string Network { get; private set; } = "";

    /// <summary>Mailbox acknowledgements a push needs before it counts as durable (1..3).</summary>
    public int RequiredAcks { get; private set; } = 1;

    /// <summary>This device's secret (device ids are derived from it per mailbox).</summary>
    public byte[] DeviceSecret { get; private set; } = [];

    /// <summary>The current generation (rotation adds one).</summary>
    public Generation Current
    {
        get
        {
            lock (_lock) return _generations[^1];
        }
    }

    /// <summary>Every generation, oldest first (old blob keys still open blobs sealed before a rotation).</summary>
    public IReadOnlyList<Generation> Generations
    {
        get
        {
            lock (_lock) return [.. _generations];
        }
    }

    /// <summary>A short local label of the group (never sent to a mailbox).</summary>
    public string GroupLabel => Label("kontinuum/mailbox/v1 group-label", _generations[0].Secret.Bytes);

    /// <summary>A short local label of this device (never sent to a mailbox).</summary>
    public string DeviceLabel => Label("kontinuum/mailbox/v1 device-label", DeviceSecret);

    /// <summary>Whether <paramref name="directory"/> holds a group.</summary>
    public static bool Exists(string directory) => File.Exists(Path.Combine(directory, FileName));

    /// <summary>Creates a new group directory for a first device (or a joining one).</summary>
    /// <exception cref="IOException">The directory already holds a group.</exception>
    /// <exception cref="ArgumentException">Bad slots or required acks.</exception>
    public static GroupStore Create(string directory, GroupSecret secret, string network, IReadOnlyList<string> slots, int requiredAcks,
        PassphraseInfo? passphrase = null)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(slots);
        ValidateSlots(slots);
        if (requiredAcks < 1 || requiredAcks > slots.Count)
            throw new ArgumentOutOfRangeException(nameof(requiredAcks), requiredAcks, $"required acknowledgements must be 1..{slots.Count}");
        if (Exists(directory)) throw new IOException($"{directory} already holds a group ({FileName} exists)");
        CreateOwnerOnlyDirectory(directory);
        var store = OpenConnection(directory);
        try
        {
            store.CreateSchema();
            var device = RandomNumberGenerator.GetBytes(GroupKeys.DeviceSecretLength);
            using (var tx = store._db.BeginTransaction())
            {
                store.SetMeta(tx, "network", System.Text.Encoding.UTF8.GetBytes(network));
                store.SetMeta(tx, "required_acks", BitConverter.GetBytes(requiredAcks));
                store.SetMeta(tx, "device_secret", device);
                store.InsertGeneration(tx, 1, secret, slots, passphrase);
                tx.Commit();
            }
            store.Load();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>Opens an existing group directory.</summary>
    /// <exception cref="FileNotFoundException">No group there.</exception>
    public static GroupStore Open(string directory)
    {
        if (!Exists(directory)) throw new FileNotFoundException($"{directory} holds no group (no {FileName}); create or join one first", Path.Combine(directory, FileName));
        var store = OpenConnection(directory);
        try
        {
            store.Load();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>Adds a generation (after a rotation, or when joining a rotated group with the same directory).</summary>
    public Generation AddGeneration(GroupSecret secret, IReadOnlyList<string> slots, PassphraseInfo? passphrase = null)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ValidateSlots(slots);
        lock (_lock)
        {
            using var tx = _db.BeginTransaction();
            InsertGeneration(tx, _generations[^1].Number + 1, secret, slots, passphrase);
            tx.Commit();
            _generations.Clear();
            LoadGenerations();
            return _generations[^1];
        }
    }

    /// <summary>Sets how many mailbox acknowledgements a push needs.</summary>
    public void SetRequiredAcks(int requiredAcks)
    {
        if (requiredAcks < 1 || requiredAcks > Current.Slots.Count)
            throw new ArgumentOutOfRangeException(nameof(requiredAcks), requiredAcks, $"required acknowledgements must be 1..{Current.Slots.Count}");
        lock (_lock)
        {
            using var tx = _db.BeginTransaction();
            SetMeta(tx, "required_acks", BitConverter.GetBytes(requiredAcks));
            tx.Commit();
            RequiredAcks = requiredAcks;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var generation in _generations) generation.Dispose();
            _generations.Clear();
            DisposeReadKeys();
            _db.Dispose();
        }
    }

    private static void ValidateSlots(IReadOnlyList<string> slots)
    {
        if (slots.Count is 0 or > Invite.MaxSlots) throw new ArgumentException($"a group has 1..{Invite.MaxSlots} mailboxes, not {slots.Count}", nameof(slots));
        foreach (var slot in slots) GroupKeys.ValidateSlot(slot);
        if (slots.Distinct(StringComparer.Ordinal).Count() != slots.Count) throw new ArgumentException("mailbox slots must differ", nameof(slots));
    }

    private static void CreateOwnerOnlyDirectory(string directory)
    {
        if (OperatingSystem.IsWindows()) System.IO.Directory.CreateDirectory(directory);
        else System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static GroupStore OpenConnection(string directory)
    {
        var path = Path.Combine(directory, FileName);
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        db.Open();
        using (var pragma = db.CreateCommand())
        {
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;";
            pragma.ExecuteNonQuery();
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new GroupStore(directory, db);
    }

    private void CreateSchema()
    {
        Execute(null, """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS generations (number INTEGER PRIMARY KEY, secret BLOB NOT NULL, slots TEXT NOT NULL,
                salt BLOB, kdf_memory INTEGER, kdf_passes INTEGER);
            CREATE TABLE IF NOT EXISTS cursors (generation INTEGER NOT NULL, slot TEXT NOT NULL, cursor INTEGER NOT NULL,
                epoch INTEGER NOT NULL, PRIMARY KEY (generation, slot));
            CREATE TABLE IF NOT EXISTS blobs (blob_id BLOB PRIMARY KEY, data BLOB NOT NULL, created_ms INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS outbox (blob_id BLOB NOT NULL REFERENCES blobs(blob_id), generation INTEGER NOT NULL,
                slot TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_ms INTEGER NOT NULL, last_error TEXT,
                PRIMARY KEY (blob_id, generation, slot));
            CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_ms);
            CREATE TABLE IF NOT EXISTS applied (seq INTEGER PRIMARY KEY AUTOINCREMENT, blob_id BLOB NOT NULL UNIQUE, applied_ms INTEGER NOT NULL);
            """);
    }

    private void Load()
    {
        Network = System.Text.Encoding.UTF8.GetString(GetMeta("network") ?? throw new InvalidDataException("group.db has no network"));
        RequiredAcks = BitConverter.ToInt32(GetMeta("required_acks") ?? BitConverter.GetBytes(1));
        DeviceSecret = GetMeta("device_secret") ?? throw new InvalidDataException("group.db has no device secret");
        LoadGenerations();
        if (_generations.Count == 0) throw new InvalidDataException("group.db has no group secret");
        LoadReadKeys();
    }

    private void LoadGenerations()
    {
        using var command = _db.CreateCommand();
        command.CommandText = "SELECT number, secret, slots, salt, kdf_memory, kdf_passes FROM generations ORDER BY number";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var passphrase = reader.IsDBNull(3) ? null
                : new PassphraseInfo((byte[])reader[3], new Certs.Secrets.KdfParameters(reader.GetInt32(4), reader.GetInt32(5)));
            _generations.Add(new Generation(reader.GetInt32(0), GroupSecret.FromBytes((byte[])reader[1]),
                reader.GetString(2).Split(',', StringSplitOptions.RemoveEmptyEntries), passphrase));
        }
    }

    private void InsertGeneration(SqliteTransaction tx, int number, GroupSecret secret, IReadOnlyList<string> slots, PassphraseInfo? passphrase)
    {
        using var command = _db.CreateCommand();
        command.Transaction = tx;
        command.CommandText = "INSERT INTO generations (number, secret, slots, salt, kdf_memory, kdf_passes) VALUES ($n, $s, $slots, $salt, $m, $p)";
        command.Parameters.AddWithValue("$n", number);
        command.Parameters.AddWithValue("$s", secret.Bytes.ToArray());
        command.Parameters.AddWithValue("$slots", string.Join(',', slots));
        command.Parameters.AddWithValue("$salt", (object?)passphrase?.Salt ?? DBNull.Value);
        command.Parameters.AddWithValue("$m", (object?)passphrase?.Kdf.MemoryKiB ?? DBNull.Value);
        command.Parameters.AddWithValue("$p", (object?)passphrase?.Kdf.Passes ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    private byte[]? GetMeta(string key)
    {
        using var command = _db.CreateCommand();
        command.CommandText = "SELECT value FROM meta WHERE key = $k";
        command.Parameters.AddWithValue("$k", key);
        return command.ExecuteScalar() as byte[];
    }

    private void SetMeta(SqliteTransaction tx, string key, byte[] value)
    {
        using var command = _db.CreateCommand();
        command.Transaction = tx;
        command.CommandText = "INSERT INTO meta (key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
        command.Parameters.AddWithValue("$k", key);
        command.Parameters.AddWithValue("$v", value);
        command.ExecuteNonQuery();
    }

    private void Execute(SqliteTransaction? tx, string sql)
    {
        using var command = _db.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string Label(string label, ReadOnlySpan<byte> secret)
    {
        Span<byte> output = stackalloc byte[8];
        Hkdf256.Derive(secret, [], System.Text.Encoding.ASCII.GetBytes(label), output);
        return Convert.ToHexStringLower(output);
    }
}

/// <summary>The salt and Argon2id parameters of a passphrase group (so invites can be issued again).</summary>
/// <param name="Salt">The 16-byte salt.</param>
/// <param name="Kdf">The cost parameters.</param>
public sealed record PassphraseInfo(byte[] Salt, Certs.Secrets.KdfParameters Kdf);

/// <summary>One generation of a group: its secret, derived keys and mailbox slots.</summary>
public sealed class Generation : IDisposable
{
    internal Generation(int number, GroupSecret secret, IReadOnlyList<string> slots, PassphraseInfo? passphrase)
    {
        Number = number;
        Secret = secret;
        Keys = new GroupKeys(secret);
        Slots = slots;
        Passphrase = passphrase;
        SlotKeys = slots.ToDictionary(s => s, Keys.ForSlot, StringComparer.Ordinal);
    }

    /// <summary>1 for the group's first secret, then one more per rotation.</summary>
    public int Number { get; }

    /// <summary>The group secret.</summary>
    public GroupSecret Secret { get; }

    /// <summary>Keys derived from it.</summary>
    public GroupKeys Keys { get; }

    /// <summary>The mailbox slots.</summary>
    public IReadOnlyList<string> Slots { get; }

    /// <summary>Per-slot keys.</summary>
    public IReadOnlyDictionary<string, SlotKeys> SlotKeys { get; }

    /// <summary>Salt and parameters when the secret came from a passphrase.</summary>
    public PassphraseInfo? Passphrase { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Keys.Dispose();
        Secret.Dispose();
    }
}
