namespace KontinuumP2P.Mailbox.Storage;

/// <summary>An opened mailbox as one device sees it (returned by <see cref="MailboxStore.OpenMailboxAsync"/>).</summary>
public sealed class MailboxHandle
{
    internal MailboxHandle(long row, byte[] mailboxId, byte[] deviceId, ulong epoch)
    {
        Row = row;
        Epoch = epoch;
        MailboxId = mailboxId;
        DeviceId = deviceId;
    }

    internal long Row { get; }

    /// <summary>The mailbox's epoch, computed once at open (it never changes for a row).</summary>
    internal ulong Epoch { get; }

    /// <summary>The mailbox id.</summary>
    public ReadOnlyMemory<byte> MailboxId { get; }

    /// <summary>The device that opened it.</summary>
    public ReadOnlyMemory<byte> DeviceId { get; }
}

/// <summary>The state of a mailbox at Open.</summary>
/// <param name="Handle">The handle for later operations.</param>
/// <param name="MaxCursor">Highest cursor assigned.</param>
/// <param name="AckedUpTo">This device's ack position.</param>
/// <param name="Created">The open created the mailbox.</param>
public sealed record MailboxOpened(MailboxHandle Handle, ulong MaxCursor, ulong AckedUpTo, bool Created)
{
    /// <summary>Blobs after this device's ack position.</summary>
    public ulong Pending => MaxCursor > AckedUpTo ? MaxCursor - AckedUpTo : 0;
}

/// <summary>Counters of the whole store (kept in memory, updated with each commit; never a table scan).</summary>
/// <param name="Mailboxes">Mailboxes held.</param>
/// <param name="Blobs">Blobs held.</param>
/// <param name="Bytes">Blob bytes held.</param>
/// <param name="Pushes">Pushes committed since open (new blobs).</param>
/// <param name="Duplicates">Pushes answered as duplicates since open.</param>
/// <param name="Deleted">Blobs deleted by retention since open.</param>
/// <param name="Batches">Commits since open.</param>
public sealed record MailboxStoreStatistics(long Mailboxes, long Blobs, long Bytes, long Pushes, long Duplicates, long Deleted, long Batches);
