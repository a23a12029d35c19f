using System.Runtime.CompilerServices;
using KontinuumP2P.Certs.Secrets;

namespace KontinuumP2P.Archive.Sinks;

/// <summary>
/// <c>dir:PATH</c>: a local content-addressed store. Objects live at <c>PATH/{p|m|c}/xx/yy/NAME</c> (xx, yy the first
/// digest bytes in hex). A write goes to <c>PATH/tmp</c>, is fsynced, renamed into place, and the folder is fsynced,
/// so a crash leaves either the whole object or none.
/// </summary>
public sealed partial class DirectorySink : IArchiveSink, ILocalSink
{
    private readonly string _root;
    private readonly string _temp;

    /// <summary>Opens (creating if needed) a directory sink.</summary>
    public DirectorySink(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _root = Path.GetFullPath(path);
        _temp = Path.Combine(_root, "tmp");
        Directory.CreateDirectory(_temp);
        // Leftovers of writes a crash interrupted were never renamed, so never visible; old ones are removed (recent
        // ones may belong to another process writing right now).
        foreach (var stale in new DirectoryInfo(_temp).EnumerateFiles())
        {
            if (stale.LastWriteTimeUtc < DateTime.UtcNow.AddHours(-1)) stale.Delete();
        }
    }

    /// <inheritdoc />
    public string Name => "dir:" + _root;

    /// <summary>The file an object is stored in.</summary>
    public string PathOf(ArchiveObjectId id)
    {
        var hex = Convert.ToHexStringLower(id.Digest[..2]);
        return Path.Combine(_root, Folder(id.Kind), hex[..2], hex[2..], id.ToString());
    }

    /// <inheritdoc />
    public async ValueTask PutAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        SinkChecks.BeforePut(id, data.Span);
        if (File.Exists(PathOf(id))) return;
        await WriteAsync(id, data, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask ReplaceAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        SinkChecks.BeforePut(id, data.Span);
        await WriteAsync(id, data, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<byte[]?> GetAsync(ArchiveObjectId id, long maxBytes, CancellationToken cancellationToken)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(PathOf(id), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        await using (stream.ConfigureAwait(false))
        {
            var length = stream.Length;
            if (length > maxBytes) throw SinkChecks.TooLarge(id, length, maxBytes);
            var data = new byte[length];
            await stream.ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);
            return data;
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> ExistsAsync(ArchiveObjectId id, CancellationToken cancellationToken) => ValueTask.FromResult(File.Exists(PathOf(id)));

    /// <inheritdoc />
    public async IAsyncEnumerable<ArchiveObjectId> ListAsync(ArchiveObjectKind kind, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var folder = Path.Combine(_root, Folder(kind));
        if (!Directory.Exists(folder)) yield break;
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (ArchiveObjectId.TryParse(Path.GetFileName(file), out var id) && id.Kind == kind && PathOf(id) == file) yield return id;
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    private static string Folder(ArchiveObjectKind kind) => kind switch
    {
        ArchiveObjectKind.Pack => "p",
        ArchiveObjectKind.Content => "c",
        _ => "m",
    };

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async Task WriteAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var final = PathOf(id);
        var folder = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(_temp, Guid.NewGuid().ToString("N"));
        try
        {
            var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, final, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        // The rename is durable only once the folder itself is fsynced.
        DurableFiles.FlushDirectory(folder);
    }
}
