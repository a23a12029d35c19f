using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Node.Configuration;

namespace KontinuumP2P.Node.Hosting;

/// <summary>
/// The cold-archive pusher of a node (<c>[archive]</c> in node.toml): it tails this node's replica mailboxes and
/// writes their blobs in packs to every sink. While it runs, the mailbox store trims an acknowledged blob of a
/// selected mailbox only once the pusher has it in a verified pack.
/// </summary>
public sealed class NodeArchiveOptions
{
    /// <summary>Sinks in <c>archive</c> CLI form (<c>dir:PATH</c>, <c>s3://BUCKET?endpoint=URL</c>, <c>peers</c>: the network's archive holders); at least one.</summary>
    public IReadOnlyList<string> Sinks { get; set; } = [];

    /// <summary>Settings of the <c>peers</c> sink (replicas, timeouts); null: its defaults (3 holders of distinct providers).</summary>
    public KontinuumP2P.Archive.Sinks.PeersSinkOptions? Peers { get; set; }

    /// <summary>Pace of the <c>peers</c> sink's re-replication loop (objects per interval); null: its defaults.</summary>
    public KontinuumP2P.Archive.Replication.HolderReplicationOptions? Replication { get; set; }

    /// <summary>The pusher's own SQLite state file; default <c>archive-state.db</c> in the data folder.</summary>
    public string? StatePath { get; set; }

    /// <summary>Pack size, pack age and poll interval.</summary>
    public ArchivePusherOptions Pusher { get; set; } = new();

    /// <summary>Mailbox ids (64 hex digits) to archive; empty archives every mailbox that carries an archive key.</summary>
    public IReadOnlyList<string> Mailboxes { get; set; } = [];

    /// <summary>Whether the pusher archives (and the store therefore holds) the mailbox with this id.</summary>
    public bool Selects(ReadOnlySpan<byte> mailboxId)
    {
        if (Mailboxes.Count == 0) return true;
        var hex = Convert.ToHexString(mailboxId);
        return Mailboxes.Any(m => string.Equals(m, hex, StringComparison.OrdinalIgnoreCase));
    }

    internal void Validate(KontinuumNodeOptions node)
    {
        if (node.Mailbox is not { } mailbox || mailbox.Store.Role != KontinuumP2P.Mailbox.Wire.MailboxRole.Replica)
            throw new NodeConfigException("archive.enabled", "archive.enabled: the archive pusher tails this node's replica mailboxes; enable [mailbox] with role = \"replica\"");
        if (Sinks.Count == 0 || Sinks.Any(string.IsNullOrWhiteSpace))
            throw new NodeConfigException("archive.sinks", "archive.sinks: name at least one sink (dir:PATH, s3://BUCKET?endpoint=URL or peers)");
        foreach (var sink in Sinks)
        {
            if (sink != "peers" && !sink.StartsWith("dir:", StringComparison.Ordinal) && !sink.StartsWith("s3://", StringComparison.Ordinal))
                throw new NodeConfigException("archive.sinks", $"archive.sinks: '{sink}' is not dir:PATH, s3://BUCKET?endpoint=URL or peers");
        }
        foreach (var id in Mailboxes)
        {
            if (id.Length != 64 || !id.All(Uri.IsHexDigit))
                throw new NodeConfigException("archive.mailboxes", $"archive.mailboxes: '{id}' is not a mailbox id of 64 hex digits");
        }
        ArgumentNullException.ThrowIfNull(Pusher);
    }
}

/// <summary>What a node's archive pusher has done since it started.</summary>
/// <param name="Packs">Packs written and verified.</param>
/// <param name="Blobs">Blobs in them.</param>
/// <param name="Bytes">Pack bytes.</param>
/// <param name="ArchivedUpTo">Per mailbox id (hex), the last cursor in a verified pack.</param>
/// <param name="LastPackAt">When the last pack was committed.</param>
/// <param name="Failures">Rounds in which a mailbox failed (retried next round).</param>
public sealed record NodeArchiveStatus(long Packs, long Blobs, long Bytes, IReadOnlyDictionary<string, ulong> ArchivedUpTo, DateTimeOffset? LastPackAt, long Failures);
