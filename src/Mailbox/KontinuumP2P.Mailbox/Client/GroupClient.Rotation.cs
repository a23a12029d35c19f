using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Client;

public sealed partial class GroupClient
{
    /// <summary>This device's id at each mailbox of the current generation: what another device removes it by.</summary>
    public DeviceReference Device => DeviceReference.Of(Store);

    /// <summary>
    /// Removes a device from every mailbox of the current generation (capability-authorised, idempotent): it no longer
    /// holds back all-device retention and is refused when it opens, pulls or acknowledges as that device. It still
    /// knows the group secret: to shut a stolen device out of future blobs, rotate (<see cref="RotateAsync"/>).
    /// </summary>
    /// <returns>Per slot: removed now, removed already, or why it failed (unreachable mailboxes can be retried).</returns>
    public async Task<IReadOnlyList<DeviceRemovalResult>> RemoveDeviceAsync(DeviceReference device, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(device);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var results = await Task.WhenAll(Connections.Select(async connection =>
        {
            if (!device.Ids.TryGetValue(connection.Slot, out var id)) return new DeviceRemovalResult(connection.Slot, false, 0, "the reference names no id at this mailbox");
            try
            {
                var session = await connection.GetSessionAsync(cancellationToken).ConfigureAwait(false);
                var removal = await session.RemoveDeviceAsync(id, cancellationToken).ConfigureAwait(false);
                return new DeviceRemovalResult(connection.Slot, removal.Removed, removal.Devices, null);
            }
            catch (Exception e) when (e is IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                if (e is not MailboxException and not MailboxUnavailableException) await connection.FailAsync(e).ConfigureAwait(false);
                return new DeviceRemovalResult(connection.Slot, false, 0, e.Message);
            }
        })).ConfigureAwait(false);
        return results;
    }

    /// <summary>
    /// Rotates the group secret (to shut out a lost or stolen device): applies what the old mailboxes hold for this
    /// device, starts a new generation (new secret, so new mailbox ids and capabilities on the same slots), re-pushes
    /// every blob the old mailboxes still hold (unchanged bytes: same ids, so devices that have them skip them) and
    /// everything still in the outbox to the new mailboxes, and once the new mailboxes hold all of it closes the old
    /// ones (deleted and tombstoned on their servers, so the old capability opens nothing). The invite it returns also
    /// carries the earlier generations' read keys, so a device joining with a new directory can read the history.
    /// </summary>
    public async Task<RotationOutcome> RotateAsync(BlobHandler apply, TimeSpan inviteValidity, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(apply);
        var old = Connections;
        var pulled = await PullAsync(apply, ack: false, cancellationToken).ConfigureAwait(false);
        if (pulled.Unreachable.Count == old.Count) throw new MailboxUnavailableException("", "no mailbox of the group is reachable: rotate when at least one is");
        var now = _options.TimeProvider.GetUtcNow();
        var secret = GroupSecret.Generate();
        var generation = Store.AddGeneration(secret, Store.Current.Slots);
        var fresh = CreateConnections(generation);
        lock (_lock) _connections = fresh;
        foreach (var connection in old)
        {
            if (pulled.Unreachable.Contains(connection.Slot)) continue;
            try
            {
                await RepushHistoryAsync(connection, generation, now, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                LogPullFailed(_logger, connection.Slot, e.Message);
            }
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        Store.MoveOutboxToCurrent(now);
        // Only now, with the history queued for the new mailboxes, may the background closing touch the old ones.
        RecordPendingClosures(generation.Number);
        var flushed = await FlushAsync(all: true, cancellationToken).ConfigureAwait(false);
        var closed = flushed.Remaining == 0 ? await CloseOldMailboxesAsync(cancellationToken).ConfigureAwait(false) : [];
        return new RotationOutcome(CreateInvite(inviteValidity), generation.Number, flushed.Remaining, closed);
    }

    /// <summary>
    /// Closes every mailbox of the generations before the current one (after a rotation, once the new mailboxes hold
    /// the history: call it when <see cref="RotationOutcome.Owed"/> was not zero and the outbox has drained since).
    /// A mailbox another device closed already counts as closed.
    /// </summary>
    /// <exception cref="InvalidOperationException">The outbox still owes blobs: closing now could lose them.</exception>
    public async Task<IReadOnlyList<MailboxClosure>> CloseOldMailboxesAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (Store.OutboxCount() is var owed and > 0)
            throw new InvalidOperationException($"the outbox still owes {owed} blobs to the new mailboxes: flush before closing the old ones");
        var current = Store.Current.Number;
        var results = new List<MailboxClosure>();
        foreach (var generation in Store.Generations.Where(g => g.Number < current))
        {
            foreach (var slot in generation.Slots)
            {
                await using var connection = new MailboxConnection(_host, _resolver, _verifier, _options, generation.Number, generation.SlotKeys[slot], Store.DeviceSecret);
                results.Add(await CloseOneAsync(connection, cancellationToken).ConfigureAwait(false));
            }
        }
        SettleClosures(results);
        return results;
    }

    private async Task<MailboxClosure> CloseOneAsync(MailboxConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            var session = await connection.GetSessionAsync(cancellationToken).ConfigureAwait(false);
            var blobs = await session.CloseMailboxAsync(cancellationToken).ConfigureAwait(false);
            LogClosed(_logger, connection.Generation, connection.Slot, blobs);
            return new MailboxClosure(connection.Generation, connection.Slot, true, null);
        }
        catch (Exception e) when (e is IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            var refusal = e as MailboxException ?? e.InnerException as MailboxException;
            if (refusal?.Code == MailboxErrorCode.MailboxClosed) return new MailboxClosure(connection.Generation, connection.Slot, true, null);
            return new MailboxClosure(connection.Generation, connection.Slot, false, e.Message);
        }
    }

    private async Task RepushHistoryAsync(MailboxConnection connection, Generation generation, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var session = await connection.GetSessionAsync(cancellationToken).ConfigureAwait(false);
        ulong cursor = 0, epoch = session.OpenResult!.Epoch;
        await foreach (var page in session.PullPagesAsync(0, _options.PullLimit, _options.PullMaxBytes, epoch, PullDepth, cancellationToken).ConfigureAwait(false))
        {
            foreach (var blob in page.Blobs)
            {
                cursor = blob.Cursor;
                var id = BlobId.Of(blob.Data.Span);
                if (blob.BlobId.Span.SequenceEqual(id.Digest)) Store.Enqueue(new SealedBlob(blob.Data.ToArray(), id), generation.Number, generation.Slots, now);
            }
        }
        if (cursor > 0) await AckQuietlyAsync(session, connection, new MailboxPosition(cursor, epoch), cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "closed generation {Generation} mailbox {Slot} ({Blobs} blobs deleted)")]
    private static partial void LogClosed(ILogger logger, int generation, string slot, ulong blobs);
}
