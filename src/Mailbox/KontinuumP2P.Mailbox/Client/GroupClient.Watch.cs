using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Client;

public sealed partial class GroupClient
{
    /// <summary>
    /// Until cancelled: pulls (as <see cref="PullAsync"/>), flushes the outbox rows that are due, subscribes to every
    /// reachable mailbox and waits for a notification, the next due outbox row, or the poll interval (which also retries
    /// unreachable mailboxes). <paramref name="onPull"/> hears each pull's outcome.
    /// </summary>
    public async Task WatchAsync(BlobHandler apply, bool ack, Action<PullOutcome>? onPull, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(apply);
        var subscribed = new HashSet<MailboxSession>(ReferenceEqualityComparer.Instance);
        while (!cancellationToken.IsCancellationRequested)
        {
            var outcome = await PullAsync(apply, ack, cancellationToken).ConfigureAwait(false);
            onPull?.Invoke(outcome);
            await FlushAsync(all: false, cancellationToken).ConfigureAwait(false);
            using var poll = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var waits = new List<Task>();
            var completions = new HashSet<Task>();
            var behind = false;
            foreach (var connection in Connections)
            {
                if (outcome.Unreachable.Contains(connection.Slot)) continue;
                try
                {
                    var session = await connection.GetSessionAsync(cancellationToken).ConfigureAwait(false);
                    if (subscribed.Add(session))
                    {
                        // Blobs pushed between the pull and the subscription notify no one: compare positions instead.
                        var now = await session.SubscribeAsync(cancellationToken).ConfigureAwait(false);
                        var position = Store.GetPosition(connection.Generation, connection.Slot);
                        if (now.Epoch != position.Epoch || now.MaxCursor > position.Cursor) behind = true;
                    }
                    waits.Add(session.Notifications.WaitToReadAsync(poll.Token).AsTask());
                    waits.Add(session.Completion);
                    completions.Add(session.Completion);
                }
                catch (Exception e) when (e is IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
                {
                    // Retried at the next poll.
                }
            }
            subscribed.RemoveWhere(s => s.Completion.IsCompleted);
            if (behind)
            {
                await poll.CancelAsync().ConfigureAwait(false);
                continue;
            }
            var wait = _options.WatchPollInterval;
            if (Store.NextDue() is { } due)
            {
                var untilDue = due - _options.TimeProvider.GetUtcNow();
                if (untilDue < wait) wait = untilDue > TimeSpan.Zero ? untilDue : TimeSpan.FromMilliseconds(50);
            }
            waits.Add(Task.Delay(wait, _options.TimeProvider, poll.Token));
            await Task.WhenAny(waits).ConfigureAwait(false);
            // Ends the waits that did not fire, so none piles up across rounds.
            await poll.CancelAsync().ConfigureAwait(false);
            // (Only the cancellable waits: a session's Completion runs as long as the session.)
            await Task.WhenAll(waits.Where(w => !completions.Contains(w))).ContinueWith(static _ => { }, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            // Drain notifications: they only say "there is more"; the next pull reads it all.
            foreach (var session in subscribed)
                while (session.Notifications.TryRead(out _)) { }
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Each mailbox of the current generation: reached now (when <paramref name="probe"/>), committed
    /// position, outbox rows owed.</summary>
    public async Task<IReadOnlyList<MailboxStatus>> StatusAsync(bool probe, CancellationToken cancellationToken)
    {
        var result = new List<MailboxStatus>();
        foreach (var connection in Connections)
        {
            if (probe)
            {
                try
                {
                    await connection.GetSessionAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (MailboxUnavailableException)
                {
                    // Reported through Reachable and LastError.
                }
            }
            var position = Store.GetPosition(connection.Generation, connection.Slot);
            result.Add(new MailboxStatus(connection.Slot, connection.PeerId, connection.Reachable ?? false, position.Cursor, position.Epoch,
                Store.OutboxCount(connection.Generation, connection.Slot), connection.LastError, connection.OpenResult));
        }
        return result;
    }

    /// <summary>An invite to the current generation, valid for <paramref name="validity"/>.</summary>
    public Invite CreateInvite(TimeSpan validity) => CreateInvite(Store, validity, _options.TimeProvider);

    /// <summary>An invite to a store's current generation.</summary>
    public static Invite CreateInvite(GroupStore store, TimeSpan validity, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(timeProvider);
        var generation = store.Current;
        return new Invite
        {
            Network = store.Network,
            Slots = generation.Slots,
            ExpiresAt = timeProvider.GetUtcNow() + validity,
            Secret = generation.Passphrase is null ? generation.Secret.Bytes.ToArray() : null,
            Salt = generation.Passphrase?.Salt,
            Kdf = generation.Passphrase?.Kdf,
            // The newest read keys of earlier generations (see docs/mailbox.md "Group rotation").
            HistoryKeys = generation.Passphrase is null ? [.. store.HistoryKeys.TakeLast(Invite.MaxHistoryKeys)] : null,
        };
    }
}
