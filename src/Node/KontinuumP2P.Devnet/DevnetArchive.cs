using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Devnet;

/// <summary>The devnet's archive pusher: on the replica mailbox node (node 0), packs to a <c>dir:</c> sink under the devnet folder.</summary>
internal static class DevnetArchive
{
    /// <summary>Short intervals so that packs appear within the first rounds.</summary>
    public static NodeArchiveOptions Options(string directory) => new()
    {
        Sinks = ["dir:" + Path.Combine(directory, "archive")],
        StatePath = Path.Combine(directory, "node-0", "archive-state.db"),
        Pusher = new ArchivePusherOptions { MaxPackAge = TimeSpan.FromSeconds(5), PollInterval = TimeSpan.FromSeconds(1) },
    };

    /// <summary>The pusher's progress and its lag behind the replica (cursors not yet in a verified pack).</summary>
    public static async Task<DevnetArchiveStatus?> StatusAsync(KontinuumNode node, string directory, CancellationToken cancellationToken)
    {
        if (node.ArchiveStatus is not { } status || node.MailboxServer is not { } server) return null;
        ulong lag = 0, archived = 0;
        foreach (var mailbox in await server.Store.ListArchivedMailboxesAsync(cancellationToken).ConfigureAwait(false))
        {
            var upTo = status.ArchivedUpTo.GetValueOrDefault(Convert.ToHexStringLower(mailbox.MailboxId.Span));
            archived += upTo;
            lag += mailbox.MaxCursor > upTo ? mailbox.MaxCursor - upTo : 0;
        }
        var age = status.LastPackAt is { } at ? node.Services.TimeProvider.GetUtcNow() - at : (TimeSpan?)null;
        return new DevnetArchiveStatus(0, Path.Combine(directory, "archive"), status.Packs, status.Blobs, status.Bytes, archived, lag, age);
    }
}

/// <summary>The devnet's archive pusher.</summary>
/// <param name="Index">The node it runs on (the replica mailbox node).</param>
/// <param name="Sink">The <c>dir:</c> sink's folder (try <c>kontinuum archive verify --sink dir:PATH</c>).</param>
/// <param name="Packs">Packs written and verified.</param>
/// <param name="Blobs">Blobs in them.</param>
/// <param name="Bytes">Pack bytes.</param>
/// <param name="ArchivedUpTo">archived_up_to summed over the replica's mailboxes.</param>
/// <param name="Lag">Blobs on the replica not yet in a verified pack.</param>
/// <param name="SinceLastPack">Time since the last pack, if any.</param>
public sealed record DevnetArchiveStatus(int Index, string Sink, long Packs, long Blobs, long Bytes, ulong ArchivedUpTo, ulong Lag, TimeSpan? SinceLastPack);
