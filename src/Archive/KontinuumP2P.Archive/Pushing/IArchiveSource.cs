namespace KontinuumP2P.Archive.Pushing;

/// <summary>
/// What the pusher tails: the replica mailboxes of a store, each with the archive key the group gave it at Open, and
/// their blobs in cursor order. The mailbox store implements it through an adapter; blobs at or below a cursor must
/// not change once listed, and a replica keeps each blob at least until it is archived.
/// </summary>
public interface IArchiveSource
{
    /// <summary>The replica mailboxes that carry an archive key.</summary>
    ValueTask<IReadOnlyList<ArchiveMailbox>> ListMailboxesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Blobs of a mailbox with cursor greater than <paramref name="afterCursor"/>, in cursor order, at most
    /// <paramref name="maxBlobs"/> of them and (beyond the first) at most <paramref name="maxBytes"/> of data.
    /// </summary>
    ValueTask<IReadOnlyList<ArchiveBlob>> ReadAfterAsync(ReadOnlyMemory<byte> mailboxId, ulong afterCursor, int maxBlobs, long maxBytes, CancellationToken cancellationToken);

    /// <summary>
    /// Told after every round and every pack: each blob of <paramref name="mailbox"/> up to <paramref name="archivedUpTo"/>
    /// is in a verified pack, so a replica may now trim them (it must not before). The default does nothing.
    /// </summary>
    ValueTask ArchivedAsync(ArchiveMailbox mailbox, ulong archivedUpTo, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>A replica mailbox to archive.</summary>
/// <param name="MailboxId">The mailbox id (32 bytes).</param>
/// <param name="ArchiveKey">The archive key the group supplied (32 bytes).</param>
/// <param name="Epoch">The mailbox's epoch: when it changes the mailbox (or its whole store) was reset and its cursors start again.</param>
public sealed record ArchiveMailbox(ReadOnlyMemory<byte> MailboxId, ReadOnlyMemory<byte> ArchiveKey, ulong Epoch = 0);

/// <summary>A stored blob.</summary>
/// <param name="Cursor">Its cursor in the mailbox.</param>
/// <param name="BlobId">BLAKE3 of the sealed blob (32 bytes).</param>
/// <param name="Data">The sealed blob.</param>
public sealed record ArchiveBlob(ulong Cursor, ReadOnlyMemory<byte> BlobId, ReadOnlyMemory<byte> Data);
