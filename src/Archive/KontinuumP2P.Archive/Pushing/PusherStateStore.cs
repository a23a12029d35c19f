using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Archive.Pushing;

/// <summary>Where one mailbox's archive stands.</summary>
/// <param name="ArchivedUpTo">Every blob with a cursor at or below this is in a verified pack named by the chain.</param>
/// <param name="ChainLength">Manifests written (the next one's sequence).</param>
/// <param name="ChainHead">BLAKE3 of the last manifest as stored; 32 zero bytes for an empty chain.</param>
/// <param name="PlannedUpTo">The last cursor of a pack being written; a restart rebuilds exactly that pack.</param>
/// <param name="Epoch">The source store's epoch the cursors belong to.</param>
public sealed record MailboxArchiveState(ulong ArchivedUpTo, ulong ChainLength, byte[] ChainHead, ulong? PlannedUpTo, ulong Epoch = 0);

/// <summary>A pack the pusher wrote.</summary>
public sealed record ArchivedPack(byte[] MailboxId, ulong Sequence, string PackId, ulong FirstCursor, ulong LastCursor, int Blobs, long Bytes);

/// <summary>
/// The pusher's own SQLite file (next to the mailbox store): per mailbox, <c>archived_up_to</c> and the chain
/// position, advanced in one transaction with the pack's record; plus the plan of the pack in flight.
/// </summary>
public sealed partial class PusherStateStore : IDisposable
{
    private readonly SqliteConnection _connection;

    /// <summary>Opens or creates the state file.</summary>
    public PusherStateStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _connection.Open();
        Execute("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            CREATE TABLE IF NOT EXISTS mailbox_state (
              mailbox_id BLOB PRIMARY KEY, archived_up_to INTEGER NOT NULL, chain_length INTEGER NOT NULL,
              chain_head BLOB NOT NULL, planned_up_to INTEGER, epoch INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS packs (
              pack_id TEXT PRIMARY KEY, mailbox_id BLOB NOT NULL, sequence INTEGER NOT NULL, first_cursor INTEGER NOT NULL,
              last_cursor INTEGER NOT NULL, blobs INTEGER NOT NULL, bytes INTEGER NOT NULL, UNIQUE (mailbox_id, sequence));
            CREATE TABLE IF NOT EXISTS contents (content_id BLOB PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;
            """);
    }

    /// <summary>The mailbox's state, or null when the pusher has never seen it.</summary>
    public MailboxArchiveState? Get(ReadOnlySpan<byte> mailboxId)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT archived_up_to, chain_length, chain_head, planned_up_to, epoch FROM mailbox_state WHERE mailbox_id = $m";
        command.Parameters.AddWithValue("$m", mailboxId.ToArray());
        using var reader = command.ExecuteReader();
        if (!reader.Read()) return null;
        return new MailboxArchiveState((ulong)reader.GetInt64(0), (ulong)reader.GetInt64(1), (byte[])reader[2],
            reader.IsDBNull(3) ? null : (ulong)reader.GetInt64(3), (ulong)reader.GetInt64(4));
    }

    /// <summary>Records a state without a pack (first sight of a mailbox, or a plan).</summary>
    public void Put(ReadOnlySpan<byte> mailboxId, MailboxArchiveState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var transaction = _connection.BeginTransaction();
        Upsert(transaction, mailboxId.ToArray(), state);
        transaction.Commit();
    }

    /// <summary>Advances a mailbox past a verified pack and records the pack, atomically.</summary>
    public void Advance(ArchivedPack pack, MailboxArchiveState state)
    {
        ArgumentNullException.ThrowIfNull(pack);
        ArgumentNullException.ThrowIfNull(state);
        using var transaction = _connection.BeginTransaction();
        using (var command = _connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO packs (pack_id, mailbox_id, sequence, first_cursor, last_cursor, blobs, bytes)
                VALUES ($p, $m, $s, $f, $l, $n, $b)
                """;
            command.Parameters.AddWithValue("$p", pack.PackId);
            command.Parameters.AddWithValue("$m", pack.MailboxId);
            command.Parameters.AddWithValue("$s", (long)pack.Sequence);
            command.Parameters.AddWithValue("$f", (long)pack.FirstCursor);
            command.Parameters.AddWithValue("$l", (long)pack.LastCursor);
            command.Parameters.AddWithValue("$n", pack.Blobs);
            command.Parameters.AddWithValue("$b", pack.Bytes);
            command.ExecuteNonQuery();
        }
        Upsert(transaction, pack.MailboxId, state);
        transaction.Commit();
    }

    /// <summary>Every pack written, in write order per mailbox.</summary>
    public IReadOnlyList<ArchivedPack> Packs()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT mailbox_id, sequence, pack_id, first_cursor, last_cursor, blobs, bytes FROM packs ORDER BY mailbox_id, sequence";
        using var reader = command.ExecuteReader();
        var result = new List<ArchivedPack>();
        while (reader.Read())
        {
            result.Add(new ArchivedPack((byte[])reader[0], (ulong)reader.GetInt64(1), reader.GetString(2), (ulong)reader.GetInt64(3),
                (ulong)reader.GetInt64(4), reader.GetInt32(5), reader.GetInt64(6)));
        }
        return result;
    }

    /// <inheritdoc />
    public void Dispose() => _connection.Dispose();

    private void Upsert(SqliteTransaction transaction, byte[] mailboxId, MailboxArchiveState state)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO mailbox_state (mailbox_id, archived_up_to, chain_length, chain_head, planned_up_to, epoch) VALUES ($m, $a, $c, $h, $p, $e)
            ON CONFLICT (mailbox_id) DO UPDATE SET archived_up_to = $a, chain_length = $c, chain_head = $h, planned_up_to = $p, epoch = $e
            """;
        command.Parameters.AddWithValue("$m", mailboxId);
        command.Parameters.AddWithValue("$a", (long)state.ArchivedUpTo);
        command.Parameters.AddWithValue("$c", (long)state.ChainLength);
        command.Parameters.AddWithValue("$h", state.ChainHead);
        command.Parameters.AddWithValue("$p", state.PlannedUpTo is { } p ? (long)p : DBNull.Value);
        command.Parameters.AddWithValue("$e", (long)state.Epoch);
        command.ExecuteNonQuery();
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
