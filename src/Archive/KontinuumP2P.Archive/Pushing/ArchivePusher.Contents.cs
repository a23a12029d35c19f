using KontinuumP2P.Archive.Contents;

namespace KontinuumP2P.Archive.Pushing;

public sealed partial class ArchivePusher
{
    /// <summary>Raised after a content was archived to every sink, read back verified, and recorded.</summary>
    public event Action<ArchivedContent>? ContentArchived;

    /// <summary>Raised when archiving a content failed (it is retried next round).</summary>
    public event Action<ReadOnlyMemory<byte>, Exception>? ContentFailed;

    // Contents known to be archived, loaded from the state file once, so a round over a large content store asks
    // SQLite nothing for what is already done.
    private HashSet<string>? _archivedContents;

    // Each complete content not yet recorded: put under its content id (idempotent: the same id is always the same
    // bytes, so a crash before the record only repeats a put the sink skips), read back, then record it.
    private async Task ArchiveContentsAsync(IArchiveContentSource contents, CancellationToken cancellationToken)
    {
        _archivedContents ??= [.. _state.Contents().Select(c => Convert.ToHexStringLower(c.ContentId))];
        foreach (var contentId in await contents.ListContentsAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = Convert.ToHexStringLower(contentId.Span);
            if (_archivedContents.Contains(key)) continue;
            var id = ArchiveObjectId.Content(contentId.Span);
            try
            {
                var data = await contents.ReadContentAsync(contentId, cancellationToken).ConfigureAwait(false);
                if (data is null) continue;
                foreach (var sink in _sinks) await StoreVerifiedAsync(sink, id, data, cancellationToken).ConfigureAwait(false);
                var record = new ArchivedContent(contentId.ToArray(), data.Length);
                _state.AddContent(record);
                _archivedContents.Add(key);
                ArchivePusherLog.ContentArchived(_logger, id.ToString(), data.Length);
                ContentArchived?.Invoke(record);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                ArchivePusherLog.ContentFailed(_logger, id.ToString(), e);
                ContentFailed?.Invoke(contentId, e);
            }
        }
    }
}
