using KontinuumP2P.Archive.Contents;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Mailbox.Content;

namespace KontinuumP2P.Archive.Restore;

/// <summary>
/// Brings back the attachment a restored <see cref="ContentReference"/> names: the archived content (named by its
/// content id) from the first sink holding an intact copy, checked against the id and the reference's shape, each
/// chunk decrypted with the reference's key and written to <c>OUT/attachments/&lt;content id&gt;/&lt;name&gt;</c>.
/// </summary>
internal static class ContentRestorer
{
    public const string Folder = "attachments";

    /// <summary>The file written, or null when no sink returned the content intact (or it does not open under the reference's key).</summary>
    public static async Task<string?> RestoreAsync(IReadOnlyList<IArchiveSink> sinks, ContentReference reference, string outDirectory, CancellationToken cancellationToken)
    {
        var id = ArchiveObjectId.Content(reference.Id.Digest);
        foreach (var sink in sinks)
        {
            byte[]? data;
            try
            {
                data = await sink.GetAsync(id, ContentObject.MaxBytes, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or PackFormatException)
            {
                continue;
            }
            if (data is null) continue;
            ContentManifest manifest;
            int at;
            try
            {
                (manifest, at) = ContentObject.Open(data, id);
            }
            catch (PackFormatException)
            {
                continue;
            }
            if (manifest.Size != reference.Size || manifest.ChunkSize != reference.ChunkSize || manifest.ChunkCount != reference.ChunkCount) continue;
            var folder = Path.Combine(outDirectory, Folder, reference.Id.ToString());
            Directory.CreateDirectory(folder);
            var path = Path.Combine(folder, FileName(reference.Name));
            if (await WriteDecryptedAsync(path, data, at, manifest, reference.Key, cancellationToken).ConfigureAwait(false)) return path;
        }
        return null;
    }

    // Only the last path segment of the sender's name, never a way out of the folder.
    private static string FileName(string name)
    {
        var file = Path.GetFileName(name.Replace('\\', '/'));
        return string.IsNullOrWhiteSpace(file) || file is "." or ".." ? "content" : file;
    }

    private static async Task<bool> WriteDecryptedAsync(string path, byte[] data, int at, ContentManifest manifest, byte[] key, CancellationToken cancellationToken)
    {
        var temp = path + ".partial";
        using var cipher = new ContentCipher(key, manifest.Size, manifest.ChunkSize, manifest.ChunkCount);
        var plain = new byte[manifest.ChunkSize];
        var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        await using (stream.ConfigureAwait(false))
        {
            for (var i = 0; i < manifest.ChunkCount; i++)
            {
                var length = manifest.CiphertextLengthOf(i);
                var plainLength = manifest.PlaintextLengthOf(i);
                if (!cipher.TryDecrypt(i, data.AsSpan(at, length), plain.AsSpan(0, plainLength)))
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                    File.Delete(temp);
                    return false;
                }
                await stream.WriteAsync(plain.AsMemory(0, plainLength), cancellationToken).ConfigureAwait(false);
                at += length;
            }
        }
        File.Move(temp, path, overwrite: true);
        return true;
    }
}
