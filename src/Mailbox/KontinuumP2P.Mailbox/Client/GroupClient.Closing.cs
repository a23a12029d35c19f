using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>What one closing pass did.</summary>
/// <param name="Closed">Old mailboxes closed in this pass.</param>
/// <param name="Pending">Old mailboxes still to close.</param>
/// <param name="NextDue">When the earliest of them is due (null when none is pending).</param>
internal readonly record struct ClosurePass(int Closed, int Pending, DateTimeOffset? NextDue);

/// <content>
/// Closing rotated-out mailboxes in the background: a rotation records every old mailbox in <c>group.db</c> once its
/// history is in the outbox, <see cref="CloseOldMailboxesAsync"/> settles the rows it reached, and the health loop
/// (<see cref="GroupHealthLoop"/>) retries the rest with the outbox's backoff (1 s doubling to 30 s, plus jitter) once the
/// outbox has drained, so a server that was down during the rotation is closed when it comes back, also after a restart.
/// </content>
public sealed partial class GroupClient
{
    /// <summary>Records the old generations' mailboxes as still to close (a rotation, once their history is queued).</summary>
    private void RecordPendingClosures(int current)
    {
        var evicted = Store.AddPendingClosures(Store.Generations.Where(g => g.Number < current).SelectMany(g => g.Slots.Select(s => (g.Number, s))),
            _options.TimeProvider.GetUtcNow());
        if (evicted > 0) LogClosuresEvicted(_logger, evicted, GroupStore.MaxPendingClosures);
    }

    /// <summary>Settles the pending rows after closing attempts: closed ones go, failed ones back off.</summary>
    private void SettleClosures(IEnumerable<MailboxClosure> results)
    {
        var now = _options.TimeProvider.GetUtcNow();
        var pending = Store.PendingClosures().ToDictionary(p => (p.Generation, p.Slot));
        foreach (var result in results)
        {
            if (result.Closed)
            {
                Store.CompleteClosure(result.Generation, result.Slot);
                continue;
            }
            if (!pending.TryGetValue((result.Generation, result.Slot), out var row))
            {
                Store.AddPendingClosures([(result.Generation, result.Slot)], now);
                row = new PendingClosure(result.Generation, result.Slot, 0, now, null);
            }
            Store.FailClosure(row.Generation, row.Slot, now + OutboxBackoff.Delay(row.Attempts + 1, _options.Jitter()), result.Error ?? "not closed");
        }
    }

    /// <summary>
    /// One pass of the background closing: nothing while the outbox owes the new mailboxes blobs (it is flushed first),
    /// then every pending old mailbox that is due is closed or rescheduled.
    /// </summary>
    internal async Task<ClosurePass> CloseDueMailboxesAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var pending = Store.PendingClosures();
        if (pending.Count == 0) return new ClosurePass(0, 0, null);
        var now = _options.TimeProvider.GetUtcNow();
        if (Store.OutboxCount() > 0)
        {
            // Closing before the new mailboxes hold the history could lose it: drain what is due, close on a later pass.
            await FlushAsync(all: false, cancellationToken).ConfigureAwait(false);
            if (Store.OutboxCount() > 0) return new ClosurePass(0, pending.Count, now);
        }
        var current = Store.Current.Number;
        var generations = Store.Generations.ToDictionary(g => g.Number);
        var results = new List<MailboxClosure>();
        foreach (var row in pending.Where(p => p.NextAttempt <= now))
        {
            if (row.Generation >= current || !generations.TryGetValue(row.Generation, out var generation) || !generation.SlotKeys.TryGetValue(row.Slot, out var keys))
            {
                // Not an old mailbox of this directory (any more): nothing to close.
                Store.CompleteClosure(row.Generation, row.Slot);
                continue;
            }
            await using var connection = new MailboxConnection(_host, _resolver, _verifier, _options, generation.Number, keys, Store.DeviceSecret);
            results.Add(await CloseOneAsync(connection, cancellationToken).ConfigureAwait(false));
        }
        SettleClosures(results);
        var left = Store.PendingClosures();
        return new ClosurePass(results.Count(r => r.Closed), left.Count, left.Count == 0 ? null : left.Min(p => p.NextAttempt));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Evicted} pending closures of the oldest generations dropped (at most {Max} are kept); run group close-old to close them")]
    private static partial void LogClosuresEvicted(ILogger logger, int evicted, int max);
}
