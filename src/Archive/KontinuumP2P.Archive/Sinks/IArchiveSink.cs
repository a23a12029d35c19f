namespace KontinuumP2P.Archive.Sinks;

/// <summary>
/// Where packs and manifests are kept: an immutable object store keyed by <see cref="ArchiveObjectId"/>. The pusher,
/// verify and restore use nothing but this; there is no delete (archives are append-only, and a holder that could be
/// told to delete is a holder that can be made to).
/// <para>Implementations: <see cref="DirectorySink"/> (<c>dir:PATH</c>), <see cref="S3Sink"/>
/// (<c>s3://BUCKET?endpoint=URL</c>); <c>peers</c> (archive nodes of the network) is named in
/// <see cref="ArchiveSinks.Open"/> but not built yet. A further network such as Iagon
/// plugs in here as one more implementation: it needs put by name (or by content hash, with the name kept in a
/// side index), get with a size bound, an existence check and listing. No Iagon adapter exists because its API is not
/// reachable from here; none is faked.</para>
/// </summary>
public interface IArchiveSink : IAsyncDisposable
{
    /// <summary>The sink as written on the command line, e.g. <c>dir:/srv/archive</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Stores an object unless one with this id is already there (idempotent: the same id always carries the same
    /// bytes). A pack whose bytes do not hash to its id is refused with <see cref="ArgumentException"/>.
    /// </summary>
    ValueTask PutAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Stores an object, replacing whatever is there (repair of a corrupted copy).</summary>
    ValueTask ReplaceAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Reads an object; null when absent.</summary>
    /// <exception cref="Packs.PackFormatException">The stored object is larger than <paramref name="maxBytes"/>.</exception>
    ValueTask<byte[]?> GetAsync(ArchiveObjectId id, long maxBytes, CancellationToken cancellationToken);

    /// <summary>Whether an object with this id is stored.</summary>
    ValueTask<bool> ExistsAsync(ArchiveObjectId id, CancellationToken cancellationToken);

    /// <summary>Lists stored objects of one kind (names that are not archive objects are skipped).</summary>
    IAsyncEnumerable<ArchiveObjectId> ListAsync(ArchiveObjectKind kind, CancellationToken cancellationToken);
}
