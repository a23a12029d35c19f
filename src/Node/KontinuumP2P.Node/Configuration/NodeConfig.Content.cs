namespace KontinuumP2P.Node.Configuration;

/// <summary>
/// <c>[content]</c>: the large-content store and <c>/kontinuum/content/1.0.0</c> beside the mailbox server (used only
/// with <c>[mailbox]</c> enabled). Sizes are bytes; durations take a unit (<c>7d</c>).
/// </summary>
public sealed class ContentSection
{
    /// <summary>Serve content beside the mailbox server.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The store's folder (relative to node.toml); default <c>content</c> beside the mailbox database.</summary>
    public string Directory { get; set; } = "";

    /// <summary>Bytes of ciphertext the store may hold (reserved in full when an upload begins).</summary>
    public long MaxStoreBytes { get; set; } = 16L << 30;

    /// <summary>Contents the store may hold.</summary>
    public long MaxContents { get; set; } = 100_000;

    /// <summary>How long a content is kept after its last upload began.</summary>
    public string Ttl { get; set; } = "7d";

    /// <summary>Largest content accepted (plaintext bytes).</summary>
    public long MaxContentBytes { get; set; } = 100L << 20;

    /// <summary>Smallest chunk size accepted (at least 4096).</summary>
    public long MinChunkBytes { get; set; } = 4 << 10;

    /// <summary>Largest chunk size accepted (at most 1048576).</summary>
    public long MaxChunkBytes { get; set; } = 1 << 20;

    /// <summary>Content streams served at once.</summary>
    public long MaxSessions { get; set; } = 256;

    /// <summary>Chunks one fetch may ask for.</summary>
    public long MaxFetchChunks { get; set; } = 64;
}
