namespace KontinuumP2P.Node.Configuration;

/// <summary>
/// <c>[archive_holder]</c>: keep packs and manifests for the network's archive pushers over
/// <c>/kontinuum/archive/1.0.0</c> (needs a certificate with the <c>archive</c> capability). Sizes are bytes.
/// </summary>
public sealed class ArchiveHolderSection
{
    /// <summary>Serve as an archive holder.</summary>
    public bool Enabled { get; set; }

    /// <summary>The store's folder (relative to node.toml); default <c>archive-holder</c> in the data folder.</summary>
    public string Directory { get; set; } = "";

    /// <summary>Most bytes held in all.</summary>
    public long Quota { get; set; } = 64L << 30;

    /// <summary>Largest object accepted.</summary>
    public long MaxObject { get; set; } = 160L << 20;

    /// <summary>How often the holder announces itself in the DHT.</summary>
    public string AnnounceInterval { get; set; } = "30m";
}
