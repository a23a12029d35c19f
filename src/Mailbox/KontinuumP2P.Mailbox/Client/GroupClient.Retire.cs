using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>What one pass over moved-away mailboxes did.</summary>
/// <param name="Closed">Mailboxes closed on the nodes their slots left.</param>
/// <param name="Copied">Blobs the old node held and the new one lacked, pushed to the new one first.</param>
/// <param name="Pending">Still to close (waiting for a re-seed, or the old node did not answer).</param>
public readonly record struct RetirePass(int Closed, long Copied, int Pending);

/// <content>
/// The catch-up signal of a drain: after this device re-seeded the new node of a moved slot, it empties its mailbox on
/// the node the slot left into the new node and closes it there. The old node counts its still-open mailboxes and
/// reports them to HQ, whose decommission gate waits for none with blobs.
/// </content>
public sealed partial class GroupClient
{
    // A node that never answers (a dead one, replaced) is given up after this many attempts (about 10 minutes).
    private const int MaxRetireAttempts = 20;

    /// <summary>
    /// For every slot that moved to another node and whose re-seed is done: lists the ids the old node holds for this
    /// mailbox, pushes to the new node each one it lacks (checked: its id is its hash and it opens with a group key),
    /// checks that the new node now holds every one of them, and only then closes the mailbox on the old node. A failed
    /// attempt backs off; nothing is closed while anything could be lost.
    /// </summary>
    public async Task<RetirePass> RetireMovedMailboxesAsync(GroupHealthOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var now = _options.TimeProvider.GetUtcNow();
        var rate = new TokenBucket(Math.Max(1, options.ReseedBlobsPerSecond), options.ReseedBlobsPerSecond, now.UtcTicks);
        var reseeding = Store.ReseedJobs().Select(j => (j.Generation, j.Slot)).ToHashSet();
        var generations = Store.Generations.ToDictionary(g => g.Number);
        int closed = 0;
        long copied = 0;
        foreach (var row in Store.RetireRows().Where(r => r.NextAttempt <= now))
        {
            if (reseeding.Contains((row.Generation, row.Slot))) continue; // the new node is filled from the survivors first
            var target = Connections.FirstOrDefault(c => c.Generation == row.Generation && c.Slot == row.Slot);
            if (target is null || !generations.TryGetValue(row.Generation, out var generation) || !generation.SlotKeys.TryGetValue(row.Slot, out var keys)
                || target.PeerId?.ToString() == row.Peer || !PeerId.TryParse(row.Peer, out var oldPeer))
            {
                Store.CompleteRetire(row); // rotated away, or the slot came back to that node: nothing to close
                continue;
            }
            await using var old = new MailboxConnection(_host, new PinnedResolver(_resolver, oldPeer!), _verifier, _options, generation.Number, keys, Store.DeviceSecret);
            try
            {
                var n = await EmptyIntoAsync(old, target, options, rate, cancellationToken).ConfigureAwait(false);
                copied += n;
                var result = await CloseOneAsync(old, cancellationToken).ConfigureAwait(false);
                if (!result.Closed) throw new IOException(result.Error ?? "not closed");
                Store.CompleteRetire(row);
                closed++;
                LogRetired(_logger, row.Slot, row.Peer, n);
            }
            catch (Exception e) when (e is IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                var refusal = e as MailboxException ?? e.InnerException as MailboxException;
                if (refusal?.Code == MailboxErrorCode.MailboxClosed || row.Attempts + 1 >= MaxRetireAttempts)
                {
                    // Closed already (another device of the group did it), or the node is gone for good.
                    Store.CompleteRetire(row);
                    if (refusal?.Code != MailboxErrorCode.MailboxClosed) LogRetireAbandoned(_logger, row.Slot, row.Peer, e.Message);
                    continue;
                }
                Store.FailRetire(row, now + OutboxBackoff.Delay(row.Attempts + 1, _options.Jitter()));
                LogRetireDeferred(_logger, row.Slot, row.Peer, e.Message);
            }
        }
        return new RetirePass(closed, copied, Store.RetireRows().Count);
    }

    /// <summary>Pushes to the new node what the old one holds and it lacks, then proves every old id is on the new node.</summary>
    private async Task<long> EmptyIntoAsync(MailboxConnection old, MailboxConnection target, GroupHealthOptions options, TokenBucket rate,
        CancellationToken cancellationToken)
    {
        var oldSession = await old.GetSessionAsync(cancellationToken).ConfigureAwait(false);
        var targetSession = await target.GetSessionAsync(cancellationToken).ConfigureAwait(false);
        var held = await ListIdsAsync(targetSession, options.MaxReconciledIds, cancellationToken).ConfigureAwait(false);
        var oldIds = new HashSet<BlobId>();
        long pushed = 0;
        ulong cursor = 0, epoch = oldSession.OpenResult!.Epoch;
        while (true)
        {
            var page = await oldSession.PullAsync(cursor, _options.PullLimit, _options.PullMaxBytes, epoch, cancellationToken).ConfigureAwait(false);
            foreach (var blob in page.Blobs)
            {
                if (blob.BlobId.Length != BlobId.Length) continue;
                var id = BlobId.FromDigest(blob.BlobId.Span);
                // Only this group's blobs count (and move): an id that is not its hash or does not open is not ours.
                if (BlobId.Of(blob.Data.Span) != id || TryOpen(blob.Data.Span) is null) continue;
                if (oldIds.Count >= options.MaxReconciledIds) throw new IOException($"the old node holds more than {options.MaxReconciledIds} blobs: not closed");
                oldIds.Add(id);
                if (held.Contains(id)) continue;
                await PushPacedAsync(targetSession, blob.Data, id, rate, cancellationToken).ConfigureAwait(false);
                pushed++;
            }
            if (page.Blobs.Count == 0 || !page.HasMore) break;
            cursor = page.Blobs[^1].Cursor;
        }
        var now = await ListIdsAsync(targetSession, options.MaxReconciledIds, cancellationToken).ConfigureAwait(false);
        var missing = oldIds.Count(id => !now.Contains(id));
        if (missing > 0) throw new IOException($"the new node still lacks {missing} blob(s) of the old one: not closed");
        return pushed;
    }

    /// <summary>Resolves any slot to one fixed node (the one a slot moved away from).</summary>
    private sealed class PinnedResolver(IMailboxResolver inner, PeerId peer) : IMailboxResolver
    {
        public Task<MailboxEndpoint> ResolveAsync(string slot, CancellationToken cancellationToken) => inner.ResolveAsync(peer.ToString(), cancellationToken);

        public Task<MailboxEndpoint> ResolveAsync(string slot, IReadOnlyCollection<string> usedProviders, CancellationToken cancellationToken) =>
            inner.ResolveAsync(peer.ToString(), cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "mailbox {Slot} closed on {Peer}, the node it moved away from ({Copied} blobs copied to the new node first)")]
    private static partial void LogRetired(ILogger logger, string slot, string peer, long copied);

    [LoggerMessage(Level = LogLevel.Information, Message = "closing mailbox {Slot} on {Peer} deferred: {Reason}")]
    private static partial void LogRetireDeferred(ILogger logger, string slot, string peer, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "gave up closing mailbox {Slot} on {Peer}: {Reason}")]
    private static partial void LogRetireAbandoned(ILogger logger, string slot, string peer, string reason);
}
