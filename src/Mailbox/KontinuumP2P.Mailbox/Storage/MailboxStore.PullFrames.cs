using KontinuumP2P.Mailbox.Wire;
using SQLitePCL;

namespace KontinuumP2P.Mailbox.Storage;

/// <summary>The page of a pull, read into its wire frame.</summary>
/// <param name="HasMore">More blobs follow the last one.</param>
/// <param name="MaxCursor">Highest cursor assigned.</param>
/// <param name="Epoch">The mailbox's epoch.</param>
internal readonly record struct PulledPage(bool HasMore, ulong MaxCursor, ulong Epoch);

/// <content>
/// The pull hot path: rows go from SQLite's own row memory straight into the encoded frame, with no array or message
/// object per blob (those were most of a pulled blob's allocations). The statement is prepared on the pooled read
/// connection's handle and finalized before the connection goes back.
/// </content>
public sealed partial class MailboxStore
{
    private const string PageSql = "SELECT k, blob_id, data FROM blobs WHERE k > ?1 AND k < ?2 AND (expires = 0 OR expires > ?3) ORDER BY k LIMIT ?4";

    /// <summary>Reads committed blobs after <paramref name="afterCursor"/> into <paramref name="frame"/>, as <see cref="ReadAfterAsync(MailboxHandle, ulong, int, int, CancellationToken)"/> would return them.</summary>
    /// <exception cref="MailboxException">NOT_OPEN when the mailbox went away; BAD_CURSOR when past its end.</exception>
    internal Task<PulledPage> ReadFrameAsync(MailboxHandle mailbox, ulong afterCursor, int maxBlobs, int maxBytes, PullFrame frame, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBlobs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        if (!IsLive(mailbox)) throw new MailboxException(MailboxErrorCode.NotOpen, "the mailbox was closed or expired; open it again");
        var max = MaxCursor(mailbox);
        if (afterCursor > max) throw new MailboxException(MailboxErrorCode.BadCursor, $"cursor {afterCursor} is past the end ({max})");
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var epoch = mailbox.Epoch;
        var row = mailbox.Row;
        return WithReaderAsync((connection, _) =>
        {
            var db = connection.Handle ?? throw new InvalidOperationException("the read connection is not open");
            Check(db, raw.sqlite3_prepare_v2(db, PageSql, out var statement));
            using (statement)
            {
                Check(db, raw.sqlite3_bind_int64(statement, 1, MailboxKeys.Key(row, afterCursor)));
                // Up to the published end only: rows committed but not yet flushed stay unseen.
                Check(db, raw.sqlite3_bind_int64(statement, 2, MailboxKeys.Key(row, max) + 1));
                Check(db, raw.sqlite3_bind_int64(statement, 3, now));
                Check(db, raw.sqlite3_bind_int64(statement, 4, maxBlobs + 1L));
                long bytes = 0;
                var hasMore = false;
                int step;
                while ((step = raw.sqlite3_step(statement)) == raw.SQLITE_ROW)
                {
                    var data = raw.sqlite3_column_blob(statement, 2);
                    if (frame.Count == maxBlobs || (frame.Count > 0 && bytes + data.Length > maxBytes))
                    {
                        hasMore = true;
                        break;
                    }
                    bytes += data.Length;
                    frame.Add(MailboxKeys.CursorOf(raw.sqlite3_column_int64(statement, 0)), raw.sqlite3_column_blob(statement, 1), data);
                }
                if (!hasMore && step != raw.SQLITE_DONE) Check(db, step);
                return Task.FromResult(new PulledPage(hasMore, Math.Max(max, frame.LastCursor), epoch));
            }
        }, cancellationToken);
    }

    private static void Check(sqlite3 db, int code)
    {
        if (code is raw.SQLITE_OK or raw.SQLITE_ROW or raw.SQLITE_DONE) return;
        throw new Microsoft.Data.Sqlite.SqliteException($"SQLite error {code}: {raw.sqlite3_errmsg(db).utf8_to_string()}", code);
    }
}
