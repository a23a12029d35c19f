using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Manifests;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Restore;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Replication;

/// <summary>
/// Rebuilds a manifest no holder serves any more, on the pusher's side (it holds the mailbox's archive key): sealing is
/// deterministic (synthetic nonce), so the manifest comes out byte-identical from what it names: its sequence, the
/// link hash of the one before, the pack's id, cursor range and blob list. The blob list is read from the pack's
/// authenticated header (a holder's copy, or the pack rebuilt from the replica's blobs); the link from the nearest
/// earlier manifest a holder still serves, rebuilding forward from there (or from the chain's start).
/// </summary>
internal static class ManifestRebuilder
{
    /// <summary>
    /// The sealed manifest at <paramref name="sequence"/>, or null when the pusher's state lacks a pack of the chain
    /// (state recovered from a sink after a loss) or a later manifest a holder serves does not link to the rebuilt one.
    /// </summary>
    public static async ValueTask<byte[]?> RebuildAsync(IArchiveSink sink, IArchiveSource source, ArchiveMailbox mailbox, ArchiveKeys keys,
        IReadOnlyDictionary<ulong, ArchivedPack> packs, ulong sequence, CancellationToken cancellationToken)
    {
        // Bounded by the chain length: each step back is one "get" of a manifest.
        var start = sequence;
        byte[]? previous = null;
        while (start > 0 && previous is null)
        {
            if (await GetManifestAsync(sink, keys, start - 1, cancellationToken).ConfigureAwait(false) is { } before) previous = ManifestChain.LinkHash(before);
            else start--;
        }
        previous ??= new byte[Hashing.DigestLength];
        byte[]? sealedManifest = null;
        for (var s = start; s <= sequence; s++)
        {
            if (!packs.TryGetValue(s, out var pack)) return null;
            var entries = await EntriesAsync(sink, source, mailbox, keys, pack, cancellationToken).ConfigureAwait(false);
            var manifest = new Manifest(s, previous, ArchiveObjectId.Parse(pack.PackId), pack.FirstCursor, pack.LastCursor,
                [.. entries.Select(e => new ManifestBlob(e.BlobId, e.Cursor))]);
            sealedManifest = ManifestCodec.Seal(manifest, keys);
            previous = ManifestChain.LinkHash(sealedManifest);
        }
        // A successor still served must name the rebuilt manifest as its previous one.
        if (await GetManifestAsync(sink, keys, sequence + 1, cancellationToken).ConfigureAwait(false) is { } after
            && !ManifestCodec.Open(after, sequence + 1, keys).Previous.Span.SequenceEqual(previous))
            return null;
        return sealedManifest;
    }

    // A manifest a holder serves that opens under the chain's key at this position; null otherwise.
    private static async ValueTask<byte[]?> GetManifestAsync(IArchiveSink sink, ArchiveKeys keys, ulong sequence, CancellationToken cancellationToken)
    {
        var sealedBox = await sink.GetAsync(keys.ManifestAddress(sequence), ManifestCodec.MaxSealedBytes, cancellationToken).ConfigureAwait(false);
        if (sealedBox is null) return null;
        try
        {
            ManifestCodec.Open(sealedBox, sequence, keys);
            return sealedBox;
        }
        catch (PackFormatException)
        {
            return null;
        }
    }

    private static async ValueTask<IReadOnlyList<PackEntry>> EntriesAsync(IArchiveSink sink, IArchiveSource source, ArchiveMailbox mailbox, ArchiveKeys keys,
        ArchivedPack pack, CancellationToken cancellationToken)
    {
        var id = ArchiveObjectId.Parse(pack.PackId);
        var bytes = await sink.GetAsync(id, PackFormat.MaxPackBytes, cancellationToken).ConfigureAwait(false);
        if (bytes is null || !PackReader.HasId(bytes, id)) bytes = await ArchiveRepairer.RebuildPackAsync(source, mailbox, pack, cancellationToken).ConfigureAwait(false);
        return PackReader.ReadHeader(bytes, keys);
    }
}
