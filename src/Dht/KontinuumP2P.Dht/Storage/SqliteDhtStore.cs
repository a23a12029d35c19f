using System.Buffers;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Routing;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Dht.Storage;

/// <summary>
/// The durable store: one SQLite file in WAL mode; every write runs in a <c>BEGIN IMMEDIATE</c> transaction so a
/// writer never upgrades a read lock half-way. One connection, serialised by a semaphore.
/// </summary>
public sealed partial class SqliteDhtStore : IDhtStore
{
    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly DhtStoreLimits _limits;
    private long _records, _providers, _refused;

    private SqliteDhtStore(SqliteConnection connection, DhtStoreLimits limits)
    {
        _connection = connection;
        _limits = limits;
    }

    /// <summary>Opens (creating when needed) the store at <paramref name="path"/>.</summary>
    public static async Task<SqliteDhtStore> OpenAsync(string path, DhtStoreLimits? limits = null, CancellationToken cancellationToken = default)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        var store = new SqliteDhtStore(connection, limits ?? new DhtStoreLimits());
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return store;
    }

    /// <summary>The journal mode in force (for checks: <c>wal</c>).</summary>
    public async Task<string> GetJournalModeAsync(CancellationToken cancellationToken)
    {
        await using var command = _connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        return (string)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <inheritdoc />
    public DhtStoreCounts Counts => new(Interlocked.Read(ref _records), Interlocked.Read(ref _providers), Interlocked.Read(ref _refused));

    /// <inheritdoc />
    public async ValueTask<bool> PutRecordAsync(StoredRecord record, CancellationToken cancellationToken)
    {
        var ns = RecordValidators.NamespaceOf(record.Record.Key.Span) ?? "";
        if (record.Record.Value.Length > _limits.MaxValueSizeOf(ns)) return Refuse();
        var publisher = record.IsOwn ? null : record.Publisher?.ToByteArray();
        return await WriteAsync(async command =>
        {
            command.CommandText = "SELECT COUNT(*) FROM records WHERE key = $key";
            command.Parameters.AddWithValue("$key", record.Record.Key.ToArray());
            var exists = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0;
            if (!exists)
            {
                if (_records >= _limits.MaxRecords) return false;
                command.CommandText = "SELECT COUNT(*) FROM records WHERE ns = $ns";
                command.Parameters.AddWithValue("$ns", ns);
                if ((long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! >= _limits.MaxRecordsPerNamespace) return false;
            }
            if (publisher is not null)
            {
                // The peer's holdings once this write replaces whatever it already had under this key.
                command.CommandText = "SELECT COUNT(*), COALESCE(SUM(length(value)), 0) FROM records WHERE publisher = $publisher AND own = 0 AND key <> $key";
                command.Parameters.AddWithValue("$publisher", publisher);
                long count, bytes;
                await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    count = reader.GetInt64(0);
                    bytes = reader.GetInt64(1);
                }
                if (count + 1 > _limits.MaxRecordsPerPeer || bytes + record.Record.Value.Length > _limits.MaxRecordBytesPerPeer) return false;
            }
            command.Parameters.Clear();
            command.CommandText = """
                INSERT INTO records (key, value, received, expires, own, publisher, ns) VALUES ($key, $value, $received, $expires, $own, $publisher, $ns)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, received = excluded.received,
                    expires = excluded.expires, own = MAX(own, excluded.own), publisher = excluded.publisher
                """;
            command.Parameters.AddWithValue("$key", record.Record.Key.ToArray());
            command.Parameters.AddWithValue("$value", record.Record.Value.ToArray());
            command.Parameters.AddWithValue("$received", (record.Record.TimeReceived ?? DateTimeOffset.UnixEpoch).ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$expires", record.Expires.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$own", record.IsOwn ? 1 : 0);
            command.Parameters.AddWithValue("$publisher", (object?)publisher ?? DBNull.Value);
            command.Parameters.AddWithValue("$ns", ns);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (!exists) Interlocked.Increment(ref _records);
            return true;
        }, cancellationToken).ConfigureAwait(false) || Refuse();
    }

    /// <inheritdoc />
    public async ValueTask<StoredRecord?> GetRecordAsync(ReadOnlyMemory<byte> key, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await ReadAsync("SELECT key, value, received, expires, own FROM records WHERE key = $key AND (own = 1 OR expires > $now)",
            c => { c.Parameters.AddWithValue("$key", key.ToArray()); c.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds()); },
            ReadRecord, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<StoredRecord>> GetOwnRecordsAsync(CancellationToken cancellationToken) =>
        await ReadAsync("SELECT key, value, received, expires, own FROM records WHERE own = 1", _ => { }, ReadRecord, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<bool> AddProviderAsync(ReadOnlyMemory<byte> key, ProviderRecord provider, CancellationToken cancellationToken)
    {
        var addresses = EncodeAddresses(provider.Addresses);
        if (addresses.Length > _limits.MaxProviderAddressBytes) return Refuse();
        return await WriteAsync(async command =>
        {
            command.CommandText = "SELECT COUNT(*), SUM(peer = $peer) FROM providers WHERE key = $key";
            command.Parameters.AddWithValue("$key", key.ToArray());
            command.Parameters.AddWithValue("$peer", provider.Provider.ToByteArray());
            long perKey, present;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                perKey = reader.GetInt64(0);
                present = reader.IsDBNull(1) ? 0 : reader.GetInt64(1);
            }
            if (present == 0 && _providers >= _limits.MaxProviders) return false;
            if (present == 0)
            {
                command.CommandText = "SELECT COUNT(*) FROM providers WHERE peer = $peer";
                if ((long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! >= _limits.MaxProvidersPerPeer) return false;
            }
            var added = present == 0;
            if (added && perKey >= _limits.MaxProvidersPerKey)
            {
                // Keep the freshest: the announcement that lapses first makes room.
                command.CommandText = "DELETE FROM providers WHERE rowid = (SELECT rowid FROM providers WHERE key = $key ORDER BY expires LIMIT 1)";
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                added = false;
            }
            command.CommandText = """
                INSERT INTO providers (key, peer, addrs, expires) VALUES ($key, $peer, $addrs, $expires)
                ON CONFLICT (key, peer) DO UPDATE SET addrs = excluded.addrs, expires = excluded.expires
                """;
            command.Parameters.AddWithValue("$addrs", addresses);
            command.Parameters.AddWithValue("$expires", provider.Expires.ToUnixTimeMilliseconds());
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (added) Interlocked.Increment(ref _providers);
            return true;
        }, cancellationToken).ConfigureAwait(false) || Refuse();
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ProviderRecord>> GetProvidersAsync(ReadOnlyMemory<byte> key, DateTimeOffset now, int max, CancellationToken cancellationToken) =>
        await ReadAsync("SELECT peer, addrs, expires FROM providers WHERE key = $key AND expires > $now ORDER BY expires DESC LIMIT $max",
            c =>
            {
                c.Parameters.AddWithValue("$key", key.ToArray());
                c.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                c.Parameters.AddWithValue("$max", max);
            },
            r => new ProviderRecord(PeerId.FromBytes((byte[])r[0]), DecodeAddresses((byte[])r[1]), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2))),
            cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> GetProvidedKeysAsync(PeerId provider, CancellationToken cancellationToken) =>
        await ReadAsync("SELECT key FROM providers WHERE peer = $peer", c => c.Parameters.AddWithValue("$peer", provider.ToByteArray()),
            r => (ReadOnlyMemory<byte>)(byte[])r[0], cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<int> RemoveExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var removed = 0;
        await WriteAsync(async command =>
        {
            command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            command.CommandText = "DELETE FROM records WHERE own = 0 AND expires <= $now";
            var records = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            command.CommandText = "DELETE FROM providers WHERE expires <= $now";
            var providers = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _records, -records);
            Interlocked.Add(ref _providers, -providers);
            removed = records + providers;
            return true;
        }, cancellationToken).ConfigureAwait(false);
        return removed;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private bool Refuse()
    {
        Interlocked.Increment(ref _refused);
        return false;
    }

    private static StoredRecord ReadRecord(SqliteDataReader r) => new(
        new DhtRecord((byte[])r[0], (byte[])r[1], DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2))),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)), r.GetInt64(4) != 0);

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var command = _connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<long> ScalarAsync(string sql, CancellationToken cancellationToken)
    {
        await using var command = _connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Runs <paramref name="body"/> in BEGIN IMMEDIATE … COMMIT; rolls back when it returns false or throws.</summary>
    private async Task<bool> WriteAsync(Func<SqliteCommand, Task<bool>> body, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ExecuteAsync("BEGIN IMMEDIATE", cancellationToken).ConfigureAwait(false);
            var commit = false;
            try
            {
                await using var command = _connection.CreateCommand();
                commit = await body(command).ConfigureAwait(false);
            }
            finally
            {
                // Not cancellable: the transaction must end whatever happened.
                await ExecuteAsync(commit ? "COMMIT" : "ROLLBACK", CancellationToken.None).ConfigureAwait(false);
            }
            return commit;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<List<T>> ReadAsync<T>(string sql, Action<SqliteCommand> bind, Func<SqliteDataReader, T> map, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = _connection.CreateCommand();
            command.CommandText = sql;
            bind(command);
            var list = new List<T>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) list.Add(map(reader));
            return list;
        }
        finally
        {
            _gate.Release();
        }
    }

    private static byte[] EncodeAddresses(IReadOnlyList<Multiaddr> addresses)
    {
        var writer = new ArrayBufferWriter<byte>();
        foreach (var address in addresses) LengthPrefixed.Write(writer, address.AsSpan());
        return writer.WrittenSpan.ToArray();
    }

    private static List<Multiaddr> DecodeAddresses(byte[] bytes)
    {
        var list = new List<Multiaddr>();
        var sequence = new ReadOnlySequence<byte>(bytes);
        while (LengthPrefixed.TryParse(ref sequence, Multiaddr.MaxBinaryLength, out var one)) list.Add(Multiaddr.FromBytes(one));
        return list;
    }
}
