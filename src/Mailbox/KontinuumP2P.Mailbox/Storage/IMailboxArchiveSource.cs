using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Storage;

/// <summary>A replica mailbox that carries an archive key (given by its group at Open).</summary>
/// <param name="MailboxId">The 32-byte mailbox id.</param>
/// <param name="ArchiveKey">The 32-byte archive key.</param>
/// <param name="MaxCursor">Highest cursor assigned when listed.</param>
/// <param name="Epoch">The mailbox's epoch (<see cref="MailboxStore.EpochOf"/>): a new one means its cursors started again.</param>
public sealed record ArchivedMailbox(ReadOnlyMemory<byte> MailboxId, ReadOnlyMemory<byte> ArchiveKey, ulong MaxCursor, ulong Epoch = 0);

/// <summary>
/// What the archive pusher reads from a mailbox store: the mailboxes with an archive key and their blobs in cursor order
/// (a tail after the last archived cursor). Reads use the store's read connections and never block its writer.
/// </summary>
public interface IMailboxArchiveSource
{
    /// <summary>The store's epoch (a new one means the store was reset and cursors start again).</summary>
    ulong Epoch { get; }

    /// <summary>Lists the mailboxes that carry an archive key (bounded by the store's mailbox cap).</summary>
    Task<IReadOnlyList<ArchivedMailbox>> ListArchivedMailboxesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Reads blobs of <paramref name="mailboxId"/> after <paramref name="afterCursor"/>: at most <paramref name="maxBlobs"/>
    /// and about <paramref name="maxBytes"/> (one larger blob is still returned alone). An unknown mailbox gives an empty page.
    /// </summary>
    Task<MailboxPullResult> ReadAfterAsync(ReadOnlyMemory<byte> mailboxId, ulong afterCursor, int maxBlobs, int maxBytes,
        CancellationToken cancellationToken);
}
