namespace KontinuumP2P.Archive.Pushing;

/// <summary>
/// Implemented by an <see cref="IArchiveSource"/> that also holds contents (large attachments, #17) on the replica:
/// the pusher archives each complete content once, as a <see cref="Contents.ContentObject"/> named by its content id.
/// </summary>
public interface IArchiveContentSource
{
    /// <summary>Content ids (32-byte digests) held with every chunk.</summary>
    ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ListContentsAsync(CancellationToken cancellationToken);

    /// <summary>The content as a <see cref="Contents.ContentObject"/>, or null when it is no longer held whole (or is too large to archive).</summary>
    ValueTask<byte[]?> ReadContentAsync(ReadOnlyMemory<byte> contentId, CancellationToken cancellationToken);
}
