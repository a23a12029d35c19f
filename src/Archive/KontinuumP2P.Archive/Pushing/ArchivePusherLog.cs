using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Archive.Pushing;

internal static partial class ArchivePusherLog
{
    [LoggerMessage(1, LogLevel.Information, "Archived pack {PackId} of mailbox {Mailbox}: {Blobs} blobs, cursors {First}..{Last}, {Bytes} bytes, manifest {Sequence}")]
    public static partial void PackArchived(ILogger logger, string packId, string mailbox, int blobs, ulong first, ulong last, long bytes, ulong sequence);

    [LoggerMessage(2, LogLevel.Warning, "Archiving mailbox {Mailbox} failed; retrying on the next round")]
    public static partial void MailboxFailed(ILogger logger, string mailbox, Exception exception);

    [LoggerMessage(3, LogLevel.Information, "Mailbox {Mailbox} had no pusher state; recovered archived_up_to {ArchivedUpTo} from {Manifests} manifests in {Sink}")]
    public static partial void Recovered(ILogger logger, string mailbox, ulong archivedUpTo, ulong manifests, string sink);

    [LoggerMessage(4, LogLevel.Warning, "Read-back of {Id} from {Sink} did not match; writing it again")]
    public static partial void ReadBackMismatch(ILogger logger, string id, string sink);

    [LoggerMessage(5, LogLevel.Warning, "An archive round failed before reaching the mailboxes; retrying after the poll interval")]
    public static partial void RoundFailed(ILogger logger, Exception exception);

    [LoggerMessage(6, LogLevel.Warning, "Mailbox {Mailbox}: store epoch changed from {Old} to {New}; cursors restart (was archived up to {ArchivedUpTo}), the chain continues")]
    public static partial void EpochChanged(ILogger logger, string mailbox, ulong old, ulong @new, ulong archivedUpTo);

    [LoggerMessage(7, LogLevel.Information, "Archived content {Content}: {Bytes} bytes")]
    public static partial void ContentArchived(ILogger logger, string content, long bytes);

    [LoggerMessage(8, LogLevel.Warning, "Archiving content {Content} failed; retrying on the next round")]
    public static partial void ContentFailed(ILogger logger, string content, Exception exception);
}
