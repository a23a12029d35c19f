namespace KontinuumP2P.Node.Configuration;

/// <summary><c>[mailbox]</c>: the encrypted blob mailbox server. Sizes are bytes; durations take a unit (<c>7d</c>).</summary>
public sealed class MailboxSection
{
    /// <summary>Serve mailboxes (the certificate must carry the <c>mailbox</c> capability).</summary>
    public bool Enabled { get; set; }

    /// <summary><c>ephemeral</c> (blobs expire by TTL) or <c>replica</c> (kept until every device acknowledged).</summary>
    public string Role { get; set; } = "ephemeral";

    /// <summary>The SQLite file; default <c>mailbox.db</c> in the data folder.</summary>
    public string Database { get; set; } = "";

    /// <summary>Largest blob accepted.</summary>
    public long MaxBlobBytes { get; set; } = (1 << 20) + 64;

    /// <summary>Bytes one mailbox may hold.</summary>
    public long MaxMailboxBytes { get; set; } = 1L << 30;

    /// <summary>Blobs one mailbox may hold.</summary>
    public long MaxMailboxBlobs { get; set; } = 1_000_000;

    /// <summary>Mailboxes the node holds.</summary>
    public long MaxMailboxes { get; set; } = 100_000;

    /// <summary>Cap on the bytes the mailbox database holds.</summary>
    public long MaxDbBytes { get; set; } = 64L << 30;

    /// <summary>Pushes one device may make per minute.</summary>
    public long PushesPerMinute { get; set; } = 6000;

    /// <summary>Requests one session may make per second.</summary>
    public long RequestsPerSecond { get; set; } = 2000;

    /// <summary>Sessions served at once.</summary>
    public long MaxSessions { get; set; } = 1024;

    /// <summary>Blobs per pull page at most.</summary>
    public long MaxPullBlobs { get; set; } = 1024;

    /// <summary>Bytes per pull page at most.</summary>
    public long MaxPullBytes { get; set; } = 4 << 20;

    /// <summary>Ephemeral: TTL of a push that asks for none.</summary>
    public string DefaultTtl { get; set; } = "7d";

    /// <summary>Ephemeral: the TTL ceiling every push is clamped to.</summary>
    public string MaxTtl { get; set; } = "7d";

    /// <summary>A mailbox not opened for this long is deleted whole.</summary>
    public string IdleExpiry { get; set; } = "90d";
}
