namespace KontinuumP2P.Node.Configuration;

/// <summary>
/// <c>[archive]</c>: the cold-archive pusher over this node's replica mailboxes (needs <c>[mailbox]</c> with
/// <c>role = "replica"</c>). Sizes are bytes; durations take a unit (<c>15m</c>).
/// </summary>
public sealed class ArchiveSection
{
    /// <summary>Run the pusher.</summary>
    public bool Enabled { get; set; }

    /// <summary>Sinks every pack goes to: <c>dir:PATH</c> (relative to node.toml), <c>s3://BUCKET?endpoint=URL</c> or <c>peers</c> (the network's archive holders).</summary>
    public IList<string> Sinks { get; set; } = [];

    /// <summary>A pack is cut once it reaches this size.</summary>
    public long PackSize { get; set; } = 16L << 20;

    /// <summary>…or once its oldest blob waited this long (the recovery point objective).</summary>
    public string Interval { get; set; } = "15m";

    /// <summary>How often the pusher looks at the mailboxes.</summary>
    public string PollInterval { get; set; } = "30s";

    /// <summary>Mailbox ids (64 hex digits) to archive; empty: every mailbox that carries an archive key.</summary>
    public IList<string> Mailboxes { get; set; } = [];

    /// <summary>With the <c>peers</c> sink: holders of distinct providers that must confirm each object (1 to 16).</summary>
    public long PeersReplicas { get; set; } = 3;

    /// <summary>With the <c>peers</c> sink: how often the re-replication loop checks the next objects' holders.</summary>
    public string ReplicationInterval { get; set; } = "5m";

    /// <summary>With the <c>peers</c> sink: most objects checked (and copied to new holders when a holder left) per interval.</summary>
    public long ReplicationObjects { get; set; } = 64;

    /// <summary>The pusher's state file; default <c>archive-state.db</c> in the data folder.</summary>
    public string StateFile { get; set; } = "";
}
