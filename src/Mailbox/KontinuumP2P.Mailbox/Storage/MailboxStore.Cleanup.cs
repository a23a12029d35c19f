using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Storage;

public sealed partial class MailboxStore
{
    private const int IdleMailboxesPerStep = 16;
    private const int MaxStepsPerPass = 100_000;
    private bool _trimScanDone;

    /// <summary>
    /// Runs retention once to completion: blobs every device acknowledged (replica), expired blobs (ephemeral), idle
    /// mailboxes, and blobs of deleted mailboxes. Each step deletes at most <see cref="MailboxStoreOptions.CleanupBatchRows"/>
    /// rows as one writer operation, so pushes queued meanwhile wait for one step at most.
    /// </summary>
    /// <returns>Blobs and mailboxes deleted.</returns>
    public async Task<(long Blobs, int Mailboxes)> RunCleanupAsync(CancellationToken cancellationToken)
    {
        long blobs = 0;
        var mailboxes = 0;
        _idleHeldSkipped = 0;
        if (!_trimScanDone)
        {
            await EnqueueAsync(new CleanupOp(s => s.FindTrimDue()), cancellationToken).ConfigureAwait(false);
            _trimScanDone = true;
        }
        foreach (var step in new Func<MailboxStore, CleanupStep>[] { s => s.TrimStep(), s => s.TtlStep(), s => s.IdleStep(), s => s.GraveStep(), s => s.TombstoneStep() })
        {
            for (var i = 0; i < MaxStepsPerPass; i++)
            {
                var done = await EnqueueAsync(new CleanupOp(step), cancellationToken).ConfigureAwait(false);
                blobs += done.Blobs;
                mailboxes += done.Mailboxes;
                if (!done.More) break;
            }
        }
        if (blobs > 0 || mailboxes > 0) Log.Cleaned(_logger, blobs, mailboxes);
        return (blobs, mailboxes);
    }

    private async Task CleanupLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            using (var waiting = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                var delay = Task.Delay(_options.CleanupInterval, _time, waiting.Token);
                var wake = _cleanupWake.WaitAsync(waiting.Token);
                await Task.WhenAny(delay, wake).ConfigureAwait(false);
                await waiting.CancelAsync().ConfigureAwait(false);
                try
                {
                    await Task.WhenAll(delay, wake).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // The loser of the race was cancelled.
                }
            }
            if (stopping.IsCancellationRequested) break;
            try
            {
                await RunCleanupAsync(stopping).ConfigureAwait(false);
            }
            catch (MailboxException e) when (e.Code == MailboxErrorCode.ShuttingDown)
            {
                break;
            }
            catch (MailboxException e)
            {
                Log.BackgroundFailed(_logger, e);
            }
        }
    }

    private CleanupStep FindTrimDue()
    {
        if (_options.Role != MailboxRole.Replica) return default;
        using var command = _writer.CreateCommand();
        command.CommandText = """
            SELECT m.id FROM mailboxes m WHERE m.trimmed < (SELECT MIN(d.acked) FROM devices d WHERE d.mailbox = m.id)
            """;
        using var reader = command.ExecuteReader();
        while (reader.Read()) _trimDue.Add(reader.GetInt64(0));
        return default;
    }

    private CleanupStep TrimStep()
    {
        if (_trimDue.Count == 0) return default;
        var row = _trimDue.First();
        var state = LoadState(row);
        var limit = state is null ? 0 : TrimLimit(state);
        if (state is null || limit <= state.Trimmed)
        {
            _trimDue.Remove(row);
            return new CleanupStep(0, 0, _trimDue.Count > 0);
        }
        var target = Math.Min(limit, state.Trimmed + (ulong)_options.CleanupBatchRows);
        var (count, bytes) = DeleteBlobs("DELETE FROM blobs WHERE k > $lo AND k <= $hi RETURNING k, length(data)",
            MailboxKeys.Key(row, state.Trimmed), MailboxKeys.Key(row, target), null);
        state.Trimmed = target;
        state.Blobs -= count;
        state.Bytes -= bytes;
        Touch(state);
        if (target >= limit) _trimDue.Remove(row);
        return new CleanupStep(count, 0, _trimDue.Count > 0);
    }

    private CleanupStep TtlStep()
    {
        if (_options.Role != MailboxRole.Ephemeral) return default;
        var (count, _) = DeleteBlobs("""
            DELETE FROM blobs WHERE k IN (SELECT k FROM blobs WHERE expires > 0 AND expires <= $lo ORDER BY expires LIMIT $hi)
            RETURNING k, length(data)
            """, Now, _options.CleanupBatchRows, (row, length) =>
        {
            if (LoadState(row) is not { } state) return;
            state.Blobs--;
            state.Bytes -= length;
            Touch(state);
        });
        return new CleanupStep(count, 0, count == _options.CleanupBatchRows);
    }

    private CleanupStep IdleStep()
    {
        var idle = new List<long>();
        using (var find = _writer.CreateCommand())
        {
            // Held mailboxes skipped earlier in this pass stay first in this order, so the offset steps over them.
            find.CommandText = "SELECT id FROM mailboxes WHERE last_access < $cut ORDER BY last_access, id LIMIT $n OFFSET $skip";
            find.Parameters.AddWithValue("$cut", Now - (long)_options.IdleExpiry.TotalMilliseconds);
            find.Parameters.AddWithValue("$n", IdleMailboxesPerStep);
            find.Parameters.AddWithValue("$skip", _idleHeldSkipped);
            using var reader = find.ExecuteReader();
            while (reader.Read()) idle.Add(reader.GetInt64(0));
        }
        var deleted = 0;
        foreach (var row in idle)
        {
            if (HoldsUnarchived(row))
            {
                _idleHeldSkipped++;
                continue;
            }
            deleted++;
            DeleteMailboxRow(row);
        }
        return new CleanupStep(0, deleted, idle.Count == IdleMailboxesPerStep);
    }

    /// <summary>Deletes a mailbox's row, devices and removals now; its blobs go later in bounded steps (graveyard).</summary>
    private void DeleteMailboxRow(long row)
    {
        using var delete = _writer.CreateCommand();
        // The row goes now so a new open starts a fresh mailbox (with a new row, so a new epoch).
        delete.CommandText = """
            INSERT OR IGNORE INTO graveyard (mailbox) VALUES ($row);
            DELETE FROM devices WHERE mailbox = $row;
            DELETE FROM removed_devices WHERE mailbox = $row;
            DELETE FROM mailboxes WHERE id = $row;
            """;
        delete.Parameters.AddWithValue("$row", row);
        delete.ExecuteNonQuery();
        if (_cache.Remove(row, out var state)) _touched.Remove(state);
        _trimDue.Remove(row);
        _removedRows.Add(row);
        _wMailboxes--;
    }

    private CleanupStep GraveStep()
    {
        long row;
        using (var find = _writer.CreateCommand())
        {
            find.CommandText = "SELECT mailbox FROM graveyard LIMIT 1";
            if (find.ExecuteScalar() is not long found) return default;
            row = found;
        }
        var (count, _) = DeleteBlobs("""
            DELETE FROM blobs WHERE k IN (SELECT k FROM blobs WHERE k >= $lo AND k < $hi LIMIT $n) RETURNING k, length(data)
            """, MailboxKeys.First(row), MailboxKeys.End(row), null, _options.CleanupBatchRows);
        if (count < _options.CleanupBatchRows)
        {
            using var done = _writer.CreateCommand();
            done.CommandText = "DELETE FROM graveyard WHERE mailbox = $row";
            done.Parameters.AddWithValue("$row", row);
            done.ExecuteNonQuery();
        }
        return new CleanupStep(count, 0, true);
    }

    /// <summary>Runs a bounded DELETE … RETURNING k, length(data) and takes the rows off the store's totals.</summary>
    private (long Count, long Bytes) DeleteBlobs(string sql, long lo, long hi, Action<long, long>? perRow, int? n = null)
    {
        using var command = _writer.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$lo", lo);
        command.Parameters.AddWithValue("$hi", hi);
        if (n is { } limit) command.Parameters.AddWithValue("$n", limit);
        long count = 0, bytes = 0;
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                var length = reader.GetInt64(1);
                count++;
                bytes += length;
                perRow?.Invoke(MailboxKeys.RowOf(reader.GetInt64(0)), length);
            }
        }
        _wBlobs -= count;
        _wBytes -= bytes;
        _batchDeleted += count;
        return (count, bytes);
    }
}
