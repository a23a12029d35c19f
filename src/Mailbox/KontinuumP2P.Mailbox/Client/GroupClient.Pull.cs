using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Client;

public sealed partial class GroupClient
{
    // A server that resets its store again and again mid-pull would otherwise keep the loop going.
    private const int MaxEpochRestartsPerPull = 3;

    // Pull requests one mailbox keeps in flight during a catch-up.
    private const int PullDepth = MailboxSession.MaxPullDepth;

    /// <summary>
    /// Pulls every reachable mailbox of the current generation (concurrently; applying one blob at a time), page by page
    /// while <c>has_more</c>. Each blob's id is checked against its bytes; blobs already applied (through any mailbox)
    /// are skipped; the rest are opened and handed to <paramref name="apply"/>. The page's cursor and applied ids are
    /// committed together, then (unless <paramref name="ack"/> is false) acknowledged to the mailbox. A mailbox whose
    /// epoch changed (its store was reset) is read again from 0; the id set keeps that from applying anything twice.
    /// Unreachable mailboxes are skipped (failover) and reported.
    /// </summary>
    public async Task<PullOutcome> PullAsync(BlobHandler apply, bool ack, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(apply);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var connections = Connections;
        var tally = new PullTally();
        var unreachable = new List<string>();
        await Task.WhenAll(connections.Select(async connection =>
        {
            try
            {
                await PullMailboxAsync(connection, apply, ack, tally, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                if (e is not MailboxUnavailableException) await connection.FailAsync(e).ConfigureAwait(false);
                LogPullFailed(_logger, connection.Slot, e.Message);
                lock (unreachable) unreachable.Add(connection.Slot);
            }
        })).ConfigureAwait(false);
        var cursors = connections.ToDictionary(c => c.Slot, c => Store.GetPosition(c.Generation, c.Slot), StringComparer.Ordinal);
        return new PullOutcome(tally.Applied, tally.Duplicates, tally.Rejected, cursors, [.. unreachable.Order(StringComparer.Ordinal)]);
    }

    private async Task PullMailboxAsync(MailboxConnection connection, BlobHandler apply, bool ack, PullTally tally, CancellationToken cancellationToken)
    {
        var session = await connection.GetSessionAsync(cancellationToken).ConfigureAwait(false);
        var open = session.OpenResult!;
        var position = Store.GetPosition(connection.Generation, connection.Slot);
        // A new epoch means the store was reset: read it again from 0. (A position past the end, below, too; the Open
        // answer's max cursor is stale on a long-lived session, so the pages' max cursor is used for that.)
        if (position.Epoch != open.Epoch) position = new MailboxPosition(0, open.Epoch);
        else if (ack && position.Cursor > open.AckedUpTo) await AckQuietlyAsync(session, connection, position, cancellationToken).ConfigureAwait(false);
        var restarts = 0;
        // Acks are pipelined behind the pulls (the server commits them; waiting for each would stall the catch-up).
        var acks = new List<Task>();
        try
        {
            while (true)
            {
                MailboxPosition? restartAt = null;
                try
                {
                    // Up to PullDepth pages travel while one is applied (the session checks every guessed page start).
                    await foreach (var page in session.PullPagesAsync(position.Cursor, _options.PullLimit, _options.PullMaxBytes, position.Epoch, PullDepth,
                                       cancellationToken).ConfigureAwait(false))
                    {
                        if (page.Epoch != position.Epoch || page.MaxCursor < position.Cursor)
                        {
                            restartAt = new MailboxPosition(0, page.Epoch);
                            break;
                        }
                        if (page.Blobs.Count > 0)
                        {
                            position = await ApplyPageAsync(connection, page, position, apply, tally, cancellationToken).ConfigureAwait(false);
                            if (ack) acks.Add(AckQuietlyAsync(session, connection, position, cancellationToken));
                        }
                        _metrics.Lag(connection.Slot, page.MaxCursor, position.Cursor);
                    }
                }
                catch (MailboxException e) when (e.Code == MailboxErrorCode.EpochChanged)
                {
                    restartAt = new MailboxPosition(0, e.Epoch);
                }
                if (restartAt is not { } restart) break;
                // A new epoch means the store was reset: read it again from 0 (the id set keeps anything from applying twice).
                if (restarts++ >= MaxEpochRestartsPerPull) throw new IOException($"mailbox {connection.Slot} keeps changing its epoch");
                position = restart;
            }
            await Task.WhenAll(acks).ConfigureAwait(false);
        }
        finally
        {
            if (acks.Count > 0) await Task.WhenAll(acks).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
        }
    }

    private async Task<MailboxPosition> ApplyPageAsync(MailboxConnection connection, MailboxPullResult page, MailboxPosition position,
        BlobHandler apply, PullTally tally, CancellationToken cancellationToken)
    {
        await _applyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var applied = new List<BlobId>(page.Blobs.Count);
            var seen = new HashSet<BlobId>();
            var cursor = position.Cursor;
            foreach (var blob in page.Blobs)
            {
                if (blob.Cursor <= cursor) throw new IOException($"mailbox {connection.Slot} sent cursor {blob.Cursor} after {cursor}");
                cursor = blob.Cursor;
                if (blob.BlobId.Length != BlobId.Length)
                {
                    tally.Rejected++;
                    continue;
                }
                // A copy of a blob applied already is skipped before hashing it: its bytes are never used, so a server
                // lying about its id can only withhold a blob, which it could do anyway.
                var claimed = BlobId.FromDigest(blob.BlobId.Span);
                if (seen.Contains(claimed) || Store.IsApplied(claimed))
                {
                    tally.Duplicates++;
                    continue;
                }
                var id = BlobId.Of(blob.Data.Span);
                if (id != claimed)
                {
                    // The server altered the bytes or the id: another mailbox holds the real blob.
                    tally.Rejected++;
                    continue;
                }
                seen.Add(id);
                if (TryOpen(blob.Data.Span) is { } plaintext)
                {
                    await apply(new ReceivedBlob(id, plaintext, connection.Slot, blob.Cursor), cancellationToken).ConfigureAwait(false);
                    tally.Applied++;
                    _metrics.Applied(1);
                }
                else
                {
                    tally.Rejected++;
                }
                // Rejected blobs are remembered too: they can never be opened, so they are not tried again.
                applied.Add(id);
            }
            var committed = new MailboxPosition(cursor, position.Epoch);
            Store.CommitPage(connection.Generation, connection.Slot, committed, applied, _options.TimeProvider.GetUtcNow());
            return committed;
        }
        finally
        {
            _applyLock.Release();
        }
    }

    /// <summary>Opens with the newest generation's key first, then older ones (blobs sealed before a rotation).</summary>
    private byte[]? TryOpen(ReadOnlySpan<byte> sealedBlob)
    {
        var generations = Store.Generations;
        for (var i = generations.Count - 1; i >= 0; i--)
        {
            try
            {
                return BlobCipher.Open(generations[i].Keys, sealedBlob);
            }
            catch (BlobFormatException)
            {
                // Try the next key.
            }
        }
        // Keys of generations before this directory joined (from the invite).
        return Store.OpenWithReadKeys(sealedBlob);
    }

    private async Task AckQuietlyAsync(MailboxSession session, MailboxConnection connection, MailboxPosition position, CancellationToken cancellationToken)
    {
        try
        {
            await session.AckAsync(position.Cursor, position.Epoch, cancellationToken).ConfigureAwait(false);
        }
        catch (MailboxException e)
        {
            // The page is committed locally; the ack is repeated on the next pull.
            LogAckFailed(_logger, connection.Slot, e.Message);
        }
    }

    private sealed class PullTally
    {
        public int Applied;
        public int Duplicates;
        public int Rejected;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "pull from mailbox {Slot} failed: {Reason}; the other mailboxes are used")]
    private static partial void LogPullFailed(ILogger logger, string slot, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "ack to mailbox {Slot} refused: {Reason}; repeated on the next pull")]
    private static partial void LogAckFailed(ILogger logger, string slot, string reason);
}
