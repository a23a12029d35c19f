using System.Globalization;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// The read side the archive pusher uses on a replica's content store: which contents are complete (every chunk held,
/// so they can be archived whole), and each one's manifest and chunks through <see cref="ContentStore.Find"/> and
/// <see cref="ContentStore.ReadChunkAsync"/>.
/// </summary>
internal static class ContentStoreArchive
{
    /// <summary>Ids of the contents held with every chunk, in a stable order (by id).</summary>
    public static IReadOnlyList<ContentId> CompleteContents(this ContentStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var ids = new List<ContentId>();
        if (!Directory.Exists(store.Options.Directory)) return ids;
        // Folder names are the content ids in hex; the store's own entry (not the folder) says what is held.
        foreach (var folder in Directory.EnumerateDirectories(store.Options.Directory))
        {
            var name = Path.GetFileName(folder);
            if (name.Length != 64 || !name.All(char.IsAsciiHexDigitLower)) continue;
            var id = ContentId.FromDigest(Convert.FromHexString(name));
            if (store.Find(id) is { } held && held.Have.Cast<bool>().All(b => b)) ids.Add(id);
        }
        ids.Sort((a, b) => string.CompareOrdinal(a.ToHex(), b.ToHex()));
        return ids;
    }

    /// <summary>Reads every chunk of a complete content into <paramref name="destination"/>, back to back; false when one is no longer held.</summary>
    public static async Task<bool> ReadAllChunksAsync(this ContentStore store, ContentManifest manifest, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(manifest);
        if (destination.Length < manifest.CiphertextSize)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{manifest.CiphertextSize} bytes needed"), nameof(destination));
        var buffer = new byte[manifest.ChunkSize + ContentCipher.TagLength];
        var at = 0;
        for (var i = 0; i < manifest.ChunkCount; i++)
        {
            var n = await store.ReadChunkAsync(manifest.Id, i, buffer, cancellationToken).ConfigureAwait(false);
            if (n < 0) return false;
            buffer.AsMemory(0, n).CopyTo(destination[at..]);
            at += n;
        }
        return true;
    }
}
