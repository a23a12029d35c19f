using KontinuumP2P.Archive.Contents;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Archive.Restore;

/// <summary>A blob a group restore wrote.</summary>
/// <param name="BlobId">Its id (CIDv1 text), also its file name in the output folder.</param>
/// <param name="Bytes">Plaintext length.</param>
/// <param name="Slot">The mailbox slot whose archive it came from.</param>
/// <param name="Generation">The group secret generation that opened it.</param>
public sealed record GroupRestoredBlob(string BlobId, int Bytes, string Slot, int Generation);

/// <summary>What a group restore found.</summary>
/// <param name="Restored">Distinct blobs written.</param>
/// <param name="Verified">Blobs read from packs whose BLAKE3 matched their id (copies from several slots included).</param>
/// <param name="Missing">Distinct blobs named by a manifest that no sink returned and no other slot supplied.</param>
/// <param name="Undecryptable">Blobs that matched their id but did not open under the group's blob key.</param>
/// <param name="ChainErrors">Manifest chains that ended early, with the reason, per slot.</param>
public sealed record GroupRestoreReport(int Restored, int Verified, int Missing, int Undecryptable, IReadOnlyList<string> ChainErrors)
{
    /// <summary>Distinct contents named by restored references, restored verified into <c>OUT/attachments</c>.</summary>
    public int Attachments { get; init; }

    /// <summary>Distinct contents named by restored references that no sink returned intact.</summary>
    public int MissingAttachments { get; init; }
}

/// <summary>
/// Restores a group from its own folder alone (group secret generations and slot names): for each slot's archive key,
/// the manifest chain, packs and blobs; each blob checked against its id, opened with the generation's blob key and
/// written as plaintext to <c>OUT/&lt;blobId&gt;</c> (temp file, then rename). The same blob fanned out to several
/// mailboxes is written once. A blob that is a content reference also brings its attachment back from the archived
/// content (<c>OUT/attachments/&lt;content id&gt;/&lt;name&gt;</c>, checked against the content id, decrypted).
/// </summary>
public static class GroupRestorer
{
    /// <summary>Restores every blob of the group in <paramref name="groupDirectory"/> into <paramref name="outDirectory"/>.</summary>
    public static async Task<GroupRestoreReport> RestoreAsync(string groupDirectory, IReadOnlyList<IArchiveSink> sinks, string outDirectory,
        Func<GroupRestoredBlob, ValueTask> onBlob, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onBlob);
        if (!GroupStore.Exists(groupDirectory)) throw new DirectoryNotFoundException($"no group in '{groupDirectory}' ({GroupStore.FileName} not found)");
        using var group = GroupStore.Open(groupDirectory);
        Directory.CreateDirectory(outDirectory);
        var written = new HashSet<string>(StringComparer.Ordinal);
        var missing = new HashSet<string>(StringComparer.Ordinal);
        var errors = new List<string>();
        var attachments = new Dictionary<string, bool>(StringComparer.Ordinal);
        int verified = 0, undecryptable = 0;
        foreach (var generation in group.Generations)
        {
            foreach (var slot in generation.Slots)
            {
                var keys = generation.SlotKeys[slot];
                var report = await ArchiveRestorer.RestoreMailboxAsync(sinks, keys.ArchiveKey, async (blob, ct) =>
                {
                    verified++;
                    var id = BlobId.FromDigest(blob.BlobId.Span).ToString();
                    if (written.Contains(id)) return;
                    byte[] plain;
                    try
                    {
                        plain = BlobCipher.Open(generation.Keys.BlobKey, blob.Sealed.Span);
                    }
                    catch (FormatException)
                    {
                        undecryptable++;
                        return;
                    }
                    await WriteAtomicallyAsync(Path.Combine(outDirectory, id), plain, ct).ConfigureAwait(false);
                    written.Add(id);
                    if (ContentReference.IsReference(plain)) await RestoreAttachmentAsync(plain, ct).ConfigureAwait(false);
                    await onBlob(new GroupRestoredBlob(id, plain.Length, slot, generation.Number)).ConfigureAwait(false);
                }, cancellationToken).ConfigureAwait(false);
                foreach (var id in report.MissingBlobIds) missing.Add(BlobId.FromDigest(id.Span).ToString());
                if (report.ChainError is { } error) errors.Add($"{slot}: {error}");
            }
        }
        missing.ExceptWith(written);
        return new GroupRestoreReport(written.Count, verified, missing.Count, undecryptable, errors)
        {
            Attachments = attachments.Count(a => a.Value), MissingAttachments = attachments.Count(a => !a.Value),
        };

        async Task RestoreAttachmentAsync(byte[] plain, CancellationToken ct)
        {
            ContentReference reference;
            try
            {
                reference = ContentReference.FromBlob(plain, ContentObject.Limits);
            }
            catch (ContentException)
            {
                return; // Looks like a reference but is not one: the blob itself is restored as it is.
            }
            var key = reference.Id.ToString();
            if (attachments.GetValueOrDefault(key)) return;
            attachments[key] = await ContentRestorer.RestoreAsync(sinks, reference, outDirectory, ct).ConfigureAwait(false) is not null;
        }
    }

    private static async Task WriteAtomicallyAsync(string path, byte[] data, CancellationToken cancellationToken)
    {
        var temp = path + ".partial";
        await File.WriteAllBytesAsync(temp, data, cancellationToken).ConfigureAwait(false);
        File.Move(temp, path, overwrite: true);
    }
}
