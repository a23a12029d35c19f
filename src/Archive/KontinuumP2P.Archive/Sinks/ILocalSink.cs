namespace KontinuumP2P.Archive.Sinks;

/// <summary>
/// Fast paths a local sink offers the pusher and restore: store a pack whose id the caller has just computed from the same bytes
/// (skipping the sink's own pre-put hash), and check a stored pack's length and BLAKE3 by streaming it through one
/// pooled buffer. The read-back check stays: an object is trusted only after it was read back from the sink.
/// </summary>
internal interface ILocalSink
{
    /// <summary>Like <see cref="IArchiveSink.PutAsync"/>, without re-hashing <paramref name="data"/> against <paramref name="id"/>.</summary>
    ValueTask PutHashedAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>True when the stored pack has this length and hashes to its id; false when absent or different.</summary>
    ValueTask<bool> HashMatchesAsync(ArchiveObjectId id, long length, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a stored object for reading (positional reads; restore streams packs through it); null when absent.
    /// </summary>
    Microsoft.Win32.SafeHandles.SafeFileHandle? OpenRead(ArchiveObjectId id);
}
