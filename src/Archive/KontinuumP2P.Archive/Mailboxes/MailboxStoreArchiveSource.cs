using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Contents;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Storage;

namespace KontinuumP2P.Archive.Mailboxes;

/// <summary>
/// The pusher's source over a mailbox store (its replica mailboxes with an archive key) and, when given, the
/// replica's content store (every complete content is archived too).
/// </summary>
public sealed class MailboxStoreArchiveSource : IArchiveSource, IArchiveContentSource
{
    private readonly IMailboxArchiveSource _store;
    private readonly ContentStore? _contents;

    /// <summary>Wraps a store's archive tail.</summary>
    public MailboxStoreArchiveSource(IMailboxArchiveSource store) => _store = store ?? throw new ArgumentNullException(nameof(store));

    /// <summary>Wraps a store's archive tail and the content store beside it.</summary>
    public MailboxStoreArchiveSource(IMailboxArchiveSource store, ContentStore? contents)
        : this(store) => _contents = contents;

    /// <summary>The store's epoch: a different one means the store was reset and its cursors restarted.</summary>
    public ulong Epoch => _store.Epoch;

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ArchiveMailbox>> ListMailboxesAsync(CancellationToken cancellationToken)
    {
        var list = await _store.ListArchivedMailboxesAsync(cancellationToken).ConfigureAwait(false);
        // Per-mailbox epochs: a mailbox deleted (idle expiry) and opened again under the same id restarts its cursors,
        // and the pusher must start it again rather than skip its new blobs.
        return [.. list.Select(m => new ArchiveMailbox(m.MailboxId, m.ArchiveKey, m.Epoch))];
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ArchiveBlob>> ReadAfterAsync(ReadOnlyMemory<byte> mailboxId, ulong afterCursor, int maxBlobs, long maxBytes,
        CancellationToken cancellationToken)
    {
        var page = await _store.ReadAfterAsync(mailboxId, afterCursor, maxBlobs, (int)Math.Min(maxBytes, int.MaxValue), cancellationToken).ConfigureAwait(false);
        return [.. page.Blobs.Select(b => new ArchiveBlob(b.Cursor, b.BlobId, b.Data))];
    }

    /// <inheritdoc />
    public async ValueTask ArchivedAsync(ArchiveMailbox mailbox, ulong archivedUpTo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        // Releases the store's trim hold (MailboxStoreOptions.ArchiveHold) up to what is now safely archived.
        if (_store is MailboxStore store) await store.SetArchivedUpToAsync(mailbox.MailboxId, mailbox.Epoch, archivedUpTo, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ListContentsAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(_contents is null ? [] : [.. _contents.CompleteContents().Select(c => (ReadOnlyMemory<byte>)c.Digest.ToArray())]);

    /// <inheritdoc />
    public async ValueTask<byte[]?> ReadContentAsync(ReadOnlyMemory<byte> contentId, CancellationToken cancellationToken)
    {
        if (_contents?.Find(ContentId.FromDigest(contentId.Span)) is not { } held) return null;
        var manifest = held.Manifest;
        if (manifest.Size > ContentObject.MaxContentBytes) return null;
        var data = new byte[ContentObject.LengthOf(manifest)];
        var at = ContentObject.WriteHead(manifest, data);
        return await _contents.ReadAllChunksAsync(manifest, data.AsMemory(at), cancellationToken).ConfigureAwait(false) ? data : null;
    }
}
