using System.Runtime.CompilerServices;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Storage;

public sealed partial class MailboxStore
{
    // The watermark hangs off the writer's live state of the mailbox, so it goes with it: a mailbox deleted (idle) and
    // opened again, or state reloaded after a failed commit, starts held at 0 until the pusher reports again.
    private readonly ConditionalWeakTable<MailboxState, StrongBox<ulong>> _archivedUpTo = [];

    /// <summary>
    /// Reports how far a mailbox is archived (every cursor up to <paramref name="archivedUpTo"/> is in a verified pack).
    /// When <see cref="MailboxStoreOptions.ArchiveHold"/> holds the mailbox, replica trimming deletes acknowledged blobs
    /// only up to this watermark; until it is reported (also after a restart) nothing of a held mailbox is trimmed.
    /// A report for another <paramref name="epoch"/> or an unknown mailbox is ignored. The watermark lives in memory: after a restart the pusher reports it again.
    /// </summary>
    /// <returns>The watermark now in force for the mailbox (0 when ignored).</returns>
    public Task<ulong> SetArchivedUpToAsync(ReadOnlyMemory<byte> mailboxId, ulong epoch, ulong archivedUpTo, CancellationToken cancellationToken)
    {
        if (mailboxId.Length != MailboxProtocol.IdLength) throw new ArgumentException("a mailbox id has 32 bytes", nameof(mailboxId));
        return EnqueueAsync(new ArchivedOp(mailboxId.ToArray(), epoch, archivedUpTo), cancellationToken);
    }

    // Idle mailboxes skipped in the current cleanup pass because they still hold unarchived blobs.
    private int _idleHeldSkipped;

    /// <summary>
    /// True when the archive hold covers this mailbox and it still has blobs past its archive watermark: idle expiry
    /// must not delete it (its blobs would be lost to the archive). Once the pusher reports it caught up, it expires.
    /// </summary>
    private bool HoldsUnarchived(long row)
    {
        if (_options.Role != MailboxRole.Replica || _options.ArchiveHold is not { } held || LoadState(row) is not { HasArchiveKey: true } state) return false;
        if (state.Blobs == 0) return false;
        var mailboxId = MailboxIdOf(row);
        if (mailboxId is null || !held(mailboxId)) return false;
        var archived = _archivedUpTo.TryGetValue(state, out var box) ? box.Value : 0;
        return archived < state.MaxCursor;
    }

    /// <summary>The cursor replica trimming may delete up to: every device's ack, and for a held mailbox its archive watermark.</summary>
    private ulong TrimLimit(MailboxState state)
    {
        var limit = state.MinAck;
        if (_options.ArchiveHold is not { } held || !state.HasArchiveKey) return limit;
        var mailboxId = MailboxIdOf(state.Row);
        if (mailboxId is null || !held(mailboxId)) return limit;
        return Math.Min(limit, _archivedUpTo.TryGetValue(state, out var archived) ? archived.Value : 0);
    }

    private byte[]? MailboxIdOf(long row)
    {
        using var find = _writer.CreateCommand();
        find.CommandText = "SELECT mailbox_id FROM mailboxes WHERE id = $row";
        find.Parameters.AddWithValue("$row", row);
        return find.ExecuteScalar() as byte[];
    }

    private ulong ApplyArchived(byte[] mailboxId, ulong epoch, ulong archivedUpTo)
    {
        long row;
        using (var find = _writer.CreateCommand())
        {
            find.CommandText = "SELECT id FROM mailboxes WHERE mailbox_id = $id";
            find.Parameters.AddWithValue("$id", mailboxId);
            row = find.ExecuteScalar() is long found ? found : 0;
        }
        if (row == 0 || epoch != MailboxEpoch(row) || LoadState(row) is not { } state) return 0;
        // A watermark beyond the mailbox's end belongs to an earlier mailbox of the same id: never let it release blobs.
        var watermark = Math.Min(archivedUpTo, state.MaxCursor);
        _archivedUpTo.AddOrUpdate(state, new StrongBox<ulong>(watermark));
        if (_options.Role == MailboxRole.Replica && TrimLimit(state) > state.Trimmed)
        {
            _trimDue.Add(row);
            WakeCleanup();
        }
        return watermark;
    }

    private void WakeCleanup()
    {
        if (_cleanupWake.CurrentCount != 0) return;
        try
        {
            _cleanupWake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken.
        }
    }

    private sealed class ArchivedOp(byte[] mailboxId, ulong epoch, ulong archivedUpTo) : WriteOp<ulong>
    {
        protected override ulong Run(MailboxStore store) => store.ApplyArchived(mailboxId, epoch, archivedUpTo);
    }
}
