namespace KontinuumP2P.Mailbox.Content;

/// <summary>Settings of a <see cref="ContentServer"/>: its store and per-stream bounds.</summary>
public sealed record ContentServerOptions
{
    /// <summary>The store: folder, quota, TTL and limits.</summary>
    public required ContentStoreOptions Store { get; init; }

    /// <summary>Content streams served at once; more are refused with TOO_MANY_SESSIONS.</summary>
    public int MaxSessions { get; init; } = 256;

    /// <summary>Chunks one fetch may ask for.</summary>
    public int MaxFetchChunks { get; init; } = 64;

    /// <summary>How long a stream may stay without a request.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long one answer may take to be written (a client that stops reading is cut off).</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often expired contents are deleted.</summary>
    public TimeSpan CleanupInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a stop waits for streams to finish.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Store);
        Store.Validate();
        if (MaxSessions is < 1 or > 100_000) throw new ArgumentException($"{nameof(MaxSessions)} must be 1..100000", nameof(MaxSessions));
        if (MaxFetchChunks is < 1 or > 1024) throw new ArgumentException($"{nameof(MaxFetchChunks)} must be 1..1024", nameof(MaxFetchChunks));
        foreach (var (value, name) in new[] { (IdleTimeout, nameof(IdleTimeout)), (WriteTimeout, nameof(WriteTimeout)), (CleanupInterval, nameof(CleanupInterval)),
            (ShutdownTimeout, nameof(ShutdownTimeout)) })
        {
            if (value <= TimeSpan.Zero) throw new ArgumentException($"{name} must be positive", name);
        }
    }
}

/// <summary>Constants of <c>/kontinuum/content/1.0.0</c>.</summary>
public static class ContentProtocol
{
    /// <summary>The protocol id negotiated by multistream-select.</summary>
    public const string ProtocolId = "/kontinuum/content/1.0.0";

    /// <summary>Cap on any frame: the largest chunk or manifest plus room for the other fields.</summary>
    public const int MaxFrameBytes = ContentLimits.MaxChunkSize + (64 << 10);

    /// <summary>Length of mailbox ids, capabilities and content ids.</summary>
    public const int IdLength = 32;
}
