namespace KontinuumP2P.Archive.Sinks;

/// <summary>Settings of the <c>peers</c> sink (<see cref="PeersSink"/>).</summary>
public sealed class PeersSinkOptions
{
    /// <summary>Holders, each of a distinct provider, that must confirm a durable store before a put succeeds.</summary>
    public int Replicas { get; set; } = 3;

    /// <summary>Most holders considered per placement (found under the holders key).</summary>
    public int MaxCandidates { get; set; } = 64;

    /// <summary>Most providers of one object asked at restore or verify.</summary>
    public int MaxProviders { get; set; } = 20;

    /// <summary>Time to open a stream and for each answer.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Time for one whole transfer to or from one holder.</summary>
    public TimeSpan TransferTimeout { get; set; } = TimeSpan.FromMinutes(10);

    internal void Validate()
    {
        if (Replicas is < 1 or > 16) throw new ArgumentException("replicas must be 1 to 16", nameof(Replicas));
        if (MaxCandidates < Replicas || MaxProviders < 1) throw new ArgumentException("candidates must cover the replicas and providers be at least 1");
        if (RequestTimeout <= TimeSpan.Zero || TransferTimeout <= TimeSpan.Zero) throw new ArgumentException("timeouts must be positive");
    }
}
