using System.Security.Cryptography;
using KontinuumP2P.Mailbox.Storage;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Mailbox.Health;

/// <summary>
/// <see cref="IRegisteredDevices"/> over a mailbox store's SQLite file: a read-only connection (WAL lets it read
/// beside the store's writer) checks that the device is registered at the mailbox and that BLAKE3 of the capability is
/// the one the mailbox was created with. It never creates or changes anything.
/// </summary>
public sealed class StoreRegisteredDevices : IRegisteredDevices, IMailboxCensus, IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly Lock _lock = new();

    /// <summary>Opens the store's database read-only.</summary>
    public StoreRegisteredDevices(MailboxStoreOptions store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = store.DatabasePath,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        _connection.Open();
    }

    /// <inheritdoc />
    public ValueTask<bool> IsRegisteredAsync(ReadOnlyMemory<byte> mailboxId, ReadOnlyMemory<byte> capability, ReadOnlyMemory<byte> deviceId,
        CancellationToken cancellationToken)
    {
        if (mailboxId.Length != 32 || capability.Length != 32 || deviceId.Length is < 16 or > 32) return ValueTask.FromResult(false);
        byte[]? capHash = null;
        lock (_lock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT m.cap_hash FROM mailboxes m JOIN devices d ON d.mailbox = m.id WHERE m.mailbox_id = $m AND d.device_id = $d";
            cmd.Parameters.AddWithValue("$m", mailboxId.ToArray());
            cmd.Parameters.AddWithValue("$d", deviceId.ToArray());
            if (cmd.ExecuteScalar() is byte[] stored) capHash = stored;
        }
        return ValueTask.FromResult(capHash is not null
            && CryptographicOperations.FixedTimeEquals(capHash, KontinuumP2P.Certs.Hashing.Blake3.Hash(capability.Span)));
    }

    /// <inheritdoc />
    public (int Open, int WithBlobs) CountMailboxes()
    {
        lock (_lock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT COUNT(*), COALESCE(SUM(blobs > 0), 0) FROM mailboxes";
            using var r = cmd.ExecuteReader();
            r.Read();
            return ((int)Math.Min(r.GetInt64(0), int.MaxValue), (int)Math.Min(r.GetInt64(1), int.MaxValue));
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock) _connection.Dispose();
    }
}
