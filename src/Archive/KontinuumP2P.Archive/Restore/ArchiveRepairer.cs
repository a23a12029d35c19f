using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Restore;

/// <summary>
/// Re-uploads packs a sink lost or corrupted, rebuilt from a replica that still holds their blobs: packs are
/// deterministic, so the same cursor range under the same archive key gives the same bytes and the same id.
/// </summary>
public static class ArchiveRepairer
{
    /// <summary>
    /// Rebuilds each damaged pack and content the pusher wrote (per its state) and replaces it in the sink; returns the
    /// objects repaired. Contents come from the source's content store when it is an <see cref="IArchiveContentSource"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The source no longer has a pack's blobs or a content whole, or rebuilding gave another id.</exception>
    public static async Task<int> RepairAsync(IArchiveSink sink, IArchiveSource source, PusherStateStore state, IReadOnlyCollection<ArchiveObjectId> damaged,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(damaged);
        var wanted = damaged.Select(d => d.ToString()).ToHashSet();
        var mailboxes = (await source.ListMailboxesAsync(cancellationToken).ConfigureAwait(false))
            .ToDictionary(m => Convert.ToHexStringLower(m.MailboxId.Span));
        var repaired = 0;
        foreach (var pack in state.Packs().Where(p => wanted.Contains(p.PackId)))
        {
            if (!mailboxes.TryGetValue(Convert.ToHexStringLower(pack.MailboxId), out var mailbox))
                throw new InvalidOperationException($"pack {pack.PackId}: its mailbox is no longer in the source");
            var rebuilt = await RebuildPackAsync(source, mailbox, pack, cancellationToken).ConfigureAwait(false);
            await sink.ReplaceAsync(ArchiveObjectId.Parse(pack.PackId), rebuilt, cancellationToken).ConfigureAwait(false);
            repaired++;
        }
        // Contents are rebuilt from the replica's content store (the object is its manifest and chunk ciphertexts as held).
        foreach (var content in state.Contents())
        {
            var id = ArchiveObjectId.Content(content.ContentId);
            if (!wanted.Contains(id.ToString())) continue;
            if (source is not IArchiveContentSource contents)
                throw new InvalidOperationException($"content {id}: the source holds no contents");
            var data = await contents.ReadContentAsync(content.ContentId, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"content {id}: the source no longer holds it whole");
            await sink.ReplaceAsync(id, data, cancellationToken).ConfigureAwait(false);
            repaired++;
        }
        return repaired;
    }

    /// <summary>Rebuilds one pack the pusher wrote from the blobs the source still holds.</summary>
    /// <exception cref="InvalidOperationException">The source no longer has all its blobs, or rebuilding gave another id.</exception>
    internal static async Task<byte[]> RebuildPackAsync(IArchiveSource source, ArchiveMailbox mailbox, ArchivedPack pack, CancellationToken cancellationToken)
    {
        var builder = new PackBuilder(ArchiveKeys.Derive(mailbox.ArchiveKey.Span));
        var after = pack.FirstCursor - 1;
        while (after < pack.LastCursor)
        {
            var batch = await source.ReadAfterAsync(mailbox.MailboxId, after, 1024, 4 << 20, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0) break;
            foreach (var blob in batch.TakeWhile(b => b.Cursor <= pack.LastCursor))
            {
                builder.Add(blob.BlobId.Span, blob.Cursor, blob.Data.Span);
                after = blob.Cursor;
            }
            if (batch[^1].Cursor > pack.LastCursor) break;
        }
        if (builder.Count != pack.Blobs) throw new InvalidOperationException($"pack {pack.PackId}: the source holds {builder.Count} of its {pack.Blobs} blobs");
        var rebuilt = builder.Build();
        if (rebuilt.Id.ToString() != pack.PackId) throw new InvalidOperationException($"pack {pack.PackId}: rebuilding gave {rebuilt.Id}");
        return rebuilt.Bytes;
    }
}
