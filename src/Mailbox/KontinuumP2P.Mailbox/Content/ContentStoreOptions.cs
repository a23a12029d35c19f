namespace KontinuumP2P.Mailbox.Content;

/// <summary>Settings of a node's content store (a folder beside the mailbox database).</summary>
public sealed record ContentStoreOptions
{
    /// <summary>The folder holding one sub-folder per content.</summary>
    public required string Directory { get; init; }

    /// <summary>Bytes the store may hold (ciphertext and manifests, counted in full at <c>Begin</c>).</summary>
    public long MaxStoreBytes { get; init; } = 16L << 30;

    /// <summary>Contents the store may hold.</summary>
    public int MaxContents { get; init; } = 100_000;

    /// <summary>How long a content is kept after its last <c>Begin</c>.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromDays(7);

    /// <summary>The size and shape limits.</summary>
    public ContentLimits Limits { get; init; } = new();

    /// <summary>
    /// Hash each chunk against its manifest before serving it for the first time in this process (chunks stored by this
    /// process were hashed when stored); a chunk that fails is dropped and reported missing. A chunk damaged on disk
    /// after that is served as it is: the receiver verifies every chunk and fetches a bad one from another holder.
    /// </summary>
    public bool VerifyOnRead { get; init; } = true;

    /// <summary>fsync each chunk and its folder before acknowledging it.</summary>
    public bool SyncWrites { get; init; } = true;

    /// <summary>
    /// On a replica whose contents an archive pusher archives: true for a content the archive does not have yet. Such a
    /// content, once complete, outlives its TTL until it is archived, but at most <see cref="MaxArchiveHold"/> longer
    /// (the store's byte quota still counts it). Null: no hold.
    /// </summary>
    public Func<ContentId, bool>? ArchiveHold { get; init; }

    /// <summary>How long past its TTL the archive hold may keep an unarchived content.</summary>
    public TimeSpan MaxArchiveHold { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Validates the settings.</summary>
    /// <exception cref="ArgumentException">A setting out of range; the message names it.</exception>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Directory);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxStoreBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxContents);
        if (Ttl <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Ttl), Ttl, "must be positive");
        if (MaxArchiveHold < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(MaxArchiveHold), MaxArchiveHold, "must not be negative");
        ArgumentNullException.ThrowIfNull(Limits);
        Limits.Validate();
    }
}
