using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Manifests;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Pushing;

public sealed partial class ArchivePusher
{
    // Store, read back and check the pack on every sink, then its manifest; only then advance archived_up_to (recording
    // in the same transaction the plan of the next pack when its range is already gathered).
    private async Task<MailboxArchiveState> WritePackAsync(ArchiveMailbox mailbox, ArchiveKeys keys, MailboxArchiveState state,
        Pack pack, ulong? nextPlan, CancellationToken cancellationToken)
    {
        var entries = pack.Entries;
        foreach (var sink in _sinks) await StoreVerifiedAsync(sink, pack.Id, pack.Bytes, cancellationToken, hashed: true).ConfigureAwait(false);

        var manifest = new Manifest(state.ChainLength, state.ChainHead, pack.Id, entries[0].Cursor, entries[^1].Cursor,
            [.. pack.Entries.Select(e => new ManifestBlob(e.BlobId, e.Cursor))]);
        var sealedManifest = ManifestCodec.Seal(manifest, keys);
        var address = keys.ManifestAddress(state.ChainLength);
        foreach (var sink in _sinks) await StoreVerifiedAsync(sink, address, sealedManifest, cancellationToken).ConfigureAwait(false);

        var record = new ArchivedPack(mailbox.MailboxId.ToArray(), state.ChainLength, pack.Id.ToString(), manifest.FirstCursor, manifest.LastCursor, entries.Count, pack.Bytes.Length);
        var next = new MailboxArchiveState(manifest.LastCursor, state.ChainLength + 1, ManifestChain.LinkHash(sealedManifest), nextPlan, state.Epoch);
        _state.Advance(record, next);
        _packs?.Add(1);
        _blobs?.Add(entries.Count);
        _bytes?.Add(pack.Bytes.Length);
        ArchivePusherLog.PackArchived(_logger, record.PackId, Convert.ToHexStringLower(mailbox.MailboxId.Span), entries.Count, record.FirstCursor, record.LastCursor, record.Bytes, record.Sequence);
        await _source.ArchivedAsync(mailbox, next.ArchivedUpTo, cancellationToken).ConfigureAwait(false);
        PackArchived?.Invoke(record);
        return next;
    }

    // Upload, read back, compare; a mismatching copy (a torn or corrupted object already there) is replaced once.
    // hashed: the id was computed here from these very bytes, so a sink that can skip its own pre-put hash does (the
    // read-back below still checks what was stored).
    private async Task StoreVerifiedAsync(IArchiveSink sink, ArchiveObjectId id, byte[] data, CancellationToken cancellationToken, bool hashed = false)
    {
        if (hashed && sink is ILocalSink fast) await fast.PutHashedAsync(id, data, cancellationToken).ConfigureAwait(false);
        else await sink.PutAsync(id, data, cancellationToken).ConfigureAwait(false);
        if (await ReadsBackAsync(sink, id, data, cancellationToken).ConfigureAwait(false)) return;
        ArchivePusherLog.ReadBackMismatch(_logger, id.ToString(), sink.Name);
        await sink.ReplaceAsync(id, data, cancellationToken).ConfigureAwait(false);
        if (!await ReadsBackAsync(sink, id, data, cancellationToken).ConfigureAwait(false))
            throw new IOException($"{sink.Name} does not return {id} as written");
    }

    private static async Task<bool> ReadsBackAsync(IArchiveSink sink, ArchiveObjectId id, byte[] data, CancellationToken cancellationToken)
    {
        // Packs from a local sink are hashed as they stream in through one pooled buffer, not read whole into a new array.
        if (id.Kind == ArchiveObjectKind.Pack && sink is ILocalSink streaming) return await streaming.HashMatchesAsync(id, data.Length, cancellationToken).ConfigureAwait(false);
        var back = await sink.GetAsync(id, data.Length, cancellationToken).ConfigureAwait(false);
        if (back is null) return false;
        return id.Kind == ArchiveObjectKind.Pack ? back.Length == data.Length && PackReader.HasId(back, id) : back.AsSpan().SequenceEqual(data);
    }
}
