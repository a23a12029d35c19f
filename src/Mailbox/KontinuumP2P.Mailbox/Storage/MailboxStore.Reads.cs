using KontinuumP2P.Mailbox.Wire;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Mailbox.Storage;

/// <content>The read side: pulls and the archive tail, on pooled read connections beside the single writer.</content>
public sealed partial class MailboxStore
{
    /// <summary>Reads committed blobs after <paramref name="afterCursor"/> on a read connection.</summary>
    /// <exception cref="MailboxException">BAD_CURSOR when past the mailbox's end.</exception>
    public Task<MailboxPullResult> ReadAfterAsync(MailboxHandle mailbox, ulong afterCursor, int maxBlobs, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        if (!IsLive(mailbox)) throw new MailboxException(MailboxErrorCode.NotOpen, "the mailbox was closed or expired; open it again");
        var max = MaxCursor(mailbox);
        if (afterCursor > max) throw new MailboxException(MailboxErrorCode.BadCursor, $"cursor {afterCursor} is past the end ({max})");
        return ReadRangeAsync(mailbox.Row, afterCursor, max, maxBlobs, maxBytes, mailbox.Epoch, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<MailboxPullResult> ReadAfterAsync(ReadOnlyMemory<byte> mailboxId, ulong afterCursor, int maxBlobs, int maxBytes,
        CancellationToken cancellationToken)
    {
        var (row, max) = await WithReaderAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT id, next_cursor FROM mailboxes WHERE mailbox_id = $id";
            command.Parameters.AddWithValue("$id", mailboxId.ToArray());
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false) ? (reader.GetInt64(0), (ulong)reader.GetInt64(1) - 1) : (0L, 0UL);
        }, cancellationToken).ConfigureAwait(false);
        // A mailbox written since the store opened is read only up to its published (durable) end.
        if (row != 0 && _published.TryGetValue(row, out var published)) max = Math.Min(max, published);
        if (row == 0 || afterCursor >= max) return new MailboxPullResult([], false, max, Epoch);
        // The archive tracks the store's epoch (IMailboxArchiveSource.Epoch), so its pages carry that one.
        return await ReadRangeAsync(row, afterCursor, max, maxBlobs, maxBytes, Epoch, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ArchivedMailbox>> ListArchivedMailboxesAsync(CancellationToken cancellationToken) =>
        WithReaderAsync<IReadOnlyList<ArchivedMailbox>>(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT mailbox_id, archive_key, next_cursor, id FROM mailboxes WHERE archive_key IS NOT NULL ORDER BY id LIMIT $max";
            command.Parameters.AddWithValue("$max", _options.MaxMailboxes);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var list = new List<ArchivedMailbox>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
                list.Add(new ArchivedMailbox((byte[])reader[0], (byte[])reader[1], (ulong)reader.GetInt64(2) - 1, MailboxEpoch(reader.GetInt64(3))));
            return list;
        }, cancellationToken);

    private Task<MailboxPullResult> ReadRangeAsync(long row, ulong afterCursor, ulong maxCursor, int maxBlobs, int maxBytes, ulong epoch,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBlobs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        return WithReaderAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT k, blob_id, data FROM blobs WHERE k > $after AND k < $end AND (expires = 0 OR expires > $now)
                ORDER BY k LIMIT $limit
                """;
            command.Parameters.AddWithValue("$after", MailboxKeys.Key(row, afterCursor));
            // Up to the published end only: rows committed but not yet flushed (overlapped durability) stay unseen.
            command.Parameters.AddWithValue("$end", MailboxKeys.Key(row, maxCursor) + 1);
            command.Parameters.AddWithValue("$now", now);
            command.Parameters.AddWithValue("$limit", maxBlobs + 1);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var blobs = new List<MailboxBlob>();
            long bytes = 0;
            var hasMore = false;
            // Rows are read synchronously: SQLite's async read is the sync one wrapped in a task, once per row.
            while (reader.Read())
            {
                var length = reader.GetBytes(2, 0, null, 0, 0);
                if (blobs.Count == maxBlobs || (blobs.Count > 0 && bytes + length > maxBytes))
                {
                    hasMore = true;
                    break;
                }
                bytes += length;
                blobs.Add(new MailboxBlob(MailboxKeys.CursorOf(reader.GetInt64(0)), (byte[])reader[1], (byte[])reader[2]));
            }
            return new MailboxPullResult(blobs, hasMore, Math.Max(maxCursor, blobs.Count > 0 ? blobs[^1].Cursor : 0), epoch);
        }, cancellationToken);
    }

    private async Task<T> WithReaderAsync<T>(Func<SqliteConnection, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (!_readPool.Reader.TryRead(out var connection))
        {
            if (Interlocked.Increment(ref _readersCreated) <= _options.ReadConnections)
            {
                connection = new SqliteConnection(_readConnectionString);
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                Interlocked.Decrement(ref _readersCreated);
                connection = await _readPool.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        try
        {
            return await read(connection, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (!_readPool.Writer.TryWrite(connection)) await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
