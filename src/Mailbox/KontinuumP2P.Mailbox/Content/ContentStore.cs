using System.Collections;
using System.Globalization;
using KontinuumP2P.Certs.Secrets;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// Content chunks on disk: <c>&lt;dir&gt;/&lt;content hex&gt;/manifest</c>, <c>expires</c> and one file per chunk
/// (<c>&lt;index&gt;.c</c>). Every file is written to a temporary name, fsynced, renamed and its folder fsynced before
/// the write is acknowledged, so an acknowledged chunk survives a crash and a torn write leaves only a temporary file
/// (deleted at open). Deduplicated by content id; the quota is reserved in full when a content begins, so an upload
/// is refused up front rather than half way. Only ciphertext and hashes are stored.
/// </summary>
public sealed partial class ContentStore
{
    private const string ManifestFile = "manifest";
    private const string ExpiresFile = "expires";
    private readonly Dictionary<ContentId, Entry> _entries = [];
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private long _bytes;
    private long _hashedOnRead;

    private ContentStore(ContentStoreOptions options, TimeProvider time)
    {
        Options = options;
        _time = time;
    }

    /// <summary>The settings.</summary>
    public ContentStoreOptions Options { get; }

    /// <summary>Bytes reserved by the contents held.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Contents held.</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _entries.Count;
        }
    }

    private sealed class Entry(ContentManifest manifest, DateTimeOffset expires)
    {
        public ContentManifest Manifest { get; } = manifest;

        public BitArray Have { get; } = new(manifest.ChunkCount);

        // Chunks hashed against the manifest by this process (when stored, or on their first read since the store
        // opened): served from then on without hashing them again. One bit per chunk, dropped with the entry.
        public BitArray Verified { get; } = new(manifest.ChunkCount);

        public DateTimeOffset Expires { get; set; } = expires;

        public long Reserved => Manifest.CiphertextSize + Manifest.Bytes.Length;
    }

    /// <summary>Opens (or creates) the store, dropping temporary files and folders without a manifest.</summary>
    public static ContentStore Open(ContentStoreOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        DurableFiles.CreatePrivateDirectory(options.Directory);
        var store = new ContentStore(options, timeProvider ?? TimeProvider.System);
        foreach (var folder in System.IO.Directory.GetDirectories(options.Directory)) store.Load(folder);
        return store;
    }

    private void Load(string folder)
    {
        ContentManifest manifest;
        DateTimeOffset expires;
        try
        {
            manifest = ContentManifest.Parse(File.ReadAllBytes(Path.Combine(folder, ManifestFile)), Options.Limits);
            expires = DateTimeOffset.FromUnixTimeSeconds(long.Parse(File.ReadAllText(Path.Combine(folder, ExpiresFile)), CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or ContentException or FormatException or OverflowException or ArgumentOutOfRangeException)
        {
            // A content whose begin never completed: nothing of it was acknowledged.
            System.IO.Directory.Delete(folder, recursive: true);
            return;
        }
        if (manifest.Id.ToHex() != Path.GetFileName(folder))
        {
            System.IO.Directory.Delete(folder, recursive: true);
            return;
        }
        var entry = new Entry(manifest, expires);
        foreach (var file in System.IO.Directory.GetFiles(folder))
        {
            var name = Path.GetFileName(file);
            if (name.EndsWith(".tmp", StringComparison.Ordinal)) File.Delete(file);
            else if (name.EndsWith(".c", StringComparison.Ordinal) && int.TryParse(name.AsSpan(0, name.Length - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
                && index < manifest.ChunkCount && new FileInfo(file).Length == manifest.CiphertextLengthOf(index))
                entry.Have[index] = true;
        }
        _entries[manifest.Id] = entry;
        _bytes += entry.Reserved;
    }

    /// <summary>
    /// Registers a content (or renews its TTL if held) and returns which chunks are held. Refuses with
    /// <see cref="ContentErrorCode.QuotaExceeded"/> when its full size does not fit.
    /// </summary>
    public async Task<(BitArray Have, DateTimeOffset Expires)> BeginAsync(ContentManifest manifest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var folder = FolderOf(manifest.Id);
        var expires = _time.GetUtcNow() + Options.Ttl;
        Entry entry;
        bool created;
        lock (_lock)
        {
            created = !_entries.TryGetValue(manifest.Id, out entry!);
            if (created)
            {
                if (_entries.Count >= Options.MaxContents)
                    throw new ContentException(ContentErrorCode.QuotaExceeded, $"the store holds its limit of {Options.MaxContents} contents");
                var reserve = manifest.CiphertextSize + manifest.Bytes.Length;
                if (_bytes + reserve > Options.MaxStoreBytes)
                    throw new ContentException(ContentErrorCode.QuotaExceeded, $"{reserve} more bytes would exceed the store's {Options.MaxStoreBytes}-byte quota");
                entry = new Entry(manifest, expires);
                _entries[manifest.Id] = entry;
                _bytes += reserve;
            }
            entry.Expires = expires;
        }
        try
        {
            System.IO.Directory.CreateDirectory(folder);
            await WriteDurablyAsync(folder, ExpiresFile, System.Text.Encoding.ASCII.GetBytes(expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
                cancellationToken).ConfigureAwait(false);
            if (created) await WriteDurablyAsync(folder, ManifestFile, manifest.Bytes.ToArray(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (created && e is IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            Remove(manifest.Id);
            throw;
        }
        lock (_lock) return ((BitArray)entry.Have.Clone(), expires);
    }

    /// <summary>The manifest and held chunks of a content, or null.</summary>
    public (ContentManifest Manifest, BitArray Have)? Find(ContentId id)
    {
        lock (_lock) return _entries.TryGetValue(id, out var entry) ? (entry.Manifest, (BitArray)entry.Have.Clone()) : null;
    }

    /// <summary>Stores chunk <paramref name="index"/> once it hashes to its manifest entry; durable when this returns.</summary>
    /// <exception cref="ContentException">Unknown content, an index out of range, or a chunk that does not verify.</exception>
    public async Task PutChunkAsync(ContentId id, int index, ReadOnlyMemory<byte> ciphertext, CancellationToken cancellationToken)
    {
        ContentManifest manifest;
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out var entry)) throw new ContentException(ContentErrorCode.UnknownContent, "begin the content before its chunks");
            manifest = entry.Manifest;
            if ((uint)index >= (uint)manifest.ChunkCount) throw new ContentException(ContentErrorCode.BadRange, $"chunk {index} is outside 0..{manifest.ChunkCount - 1}");
            if (entry.Have[index]) return;
        }
        if (!manifest.Verify(index, ciphertext.Span)) throw new ContentException(ContentErrorCode.BadChunk, $"chunk {index} does not match the manifest");
        await WriteDurablyAsync(FolderOf(id), ChunkFile(index), ciphertext, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            if (_entries.TryGetValue(id, out var entry) && ReferenceEquals(entry.Manifest, manifest)) entry.Have[index] = entry.Verified[index] = true;
        }
    }

    /// <summary>
    /// Reads chunk <paramref name="index"/> into <paramref name="buffer"/>; its length, or -1 when not held. With
    /// <see cref="ContentStoreOptions.VerifyOnRead"/> a chunk not yet hashed by this process is hashed first (a damaged
    /// one is dropped and reported missing); a receiver verifies every chunk anyway.
    /// </summary>
    public Task<int> ReadChunkAsync(ContentId id, int index, byte[] buffer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return ReadChunkIntoAsync(id, index, buffer.AsMemory(), cancellationToken);
    }

    /// <summary>Chunks hashed on read since the store opened (each at most once while it stays held).</summary>
    internal long ChunksHashedOnRead => Interlocked.Read(ref _hashedOnRead);

    /// <summary>As the public overload, into any memory (the server reads straight into the stream's send buffer).</summary>
    internal async Task<int> ReadChunkIntoAsync(ContentId id, int index, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ContentManifest manifest;
        bool verified;
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out var entry) || (uint)index >= (uint)entry.Manifest.ChunkCount || !entry.Have[index]) return -1;
            manifest = entry.Manifest;
            verified = !Options.VerifyOnRead || entry.Verified[index];
        }
        var length = manifest.CiphertextLengthOf(index);
        if (buffer.Length < length) throw new ArgumentException($"chunk {index} needs {length} bytes", nameof(buffer));
        try
        {
            using var handle = File.OpenHandle(Path.Combine(FolderOf(id), ChunkFile(index)), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                FileOptions.Asynchronous);
            var filled = 0;
            while (filled < length)
            {
                var n = await RandomAccess.ReadAsync(handle, buffer[filled..length], filled, cancellationToken).ConfigureAwait(false);
                if (n == 0) break;
                filled += n;
            }
            if (filled == length && verified) return length;
            if (filled == length)
            {
                Interlocked.Increment(ref _hashedOnRead);
                if (manifest.Verify(index, buffer.Span[..length]))
                {
                    lock (_lock)
                    {
                        if (_entries.TryGetValue(id, out var entry) && ReferenceEquals(entry.Manifest, manifest)) entry.Verified[index] = true;
                    }
                    return length;
                }
            }
        }
        catch (FileNotFoundException)
        {
        }
        catch (DirectoryNotFoundException)
        {
            return -1;
        }
        // Damaged or vanished on disk: forget it so the uploader (or another holder) supplies it again.
        lock (_lock)
        {
            if (_entries.TryGetValue(id, out var entry)) entry.Have[index] = entry.Verified[index] = false;
        }
        return -1;
    }

    /// <summary>Deletes contents whose TTL passed; returns how many.</summary>
    public int RemoveExpired()
    {
        var now = _time.GetUtcNow();
        List<ContentId> expired;
        lock (_lock) expired = [.. _entries.Where(e => e.Value.Expires <= now).Select(e => e.Key)];
        KeepArchiveHeld(expired);
        foreach (var id in expired) Remove(id);
        return expired.Count;
    }

    private void Remove(ContentId id)
    {
        lock (_lock)
        {
            if (!_entries.Remove(id, out var entry)) return;
            _bytes -= entry.Reserved;
        }
        try
        {
            System.IO.Directory.Delete(FolderOf(id), recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private string FolderOf(ContentId id) => Path.Combine(Options.Directory, id.ToHex());

    private static string ChunkFile(int index) => index.ToString(CultureInfo.InvariantCulture) + ".c";

    private async Task WriteDurablyAsync(string folder, string name, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var temp = Path.Combine(folder, $"{name}.{Guid.NewGuid():N}.tmp");
        await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
        {
            await file.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            if (Options.SyncWrites) file.Flush(flushToDisk: true);
        }
        File.Move(temp, Path.Combine(folder, name), overwrite: true);
        if (Options.SyncWrites) DurableFiles.FlushDirectory(folder);
    }
}
