namespace KontinuumP2P.Core.Resources;

/// <summary>What one scope may hold at once.</summary>
/// <param name="Streams">Open streams.</param>
/// <param name="Memory">Bytes reserved (e.g. received frames not yet read by the application).</param>
public readonly record struct ResourceLimits(int Streams, long Memory);

/// <summary>The limits of each scope kind, in the spirit of go-libp2p's resource manager (kept simple: no transient or service scopes).</summary>
public sealed class ResourceManagerOptions
{
    /// <summary>The whole host.</summary>
    public ResourceLimits System { get; init; } = new(Streams: 8192, Memory: 1024L * 1024 * 1024);

    /// <summary>Every connection to one peer together.</summary>
    public ResourceLimits Peer { get; init; } = new(Streams: 1024, Memory: 128L * 1024 * 1024);

    /// <summary>One protocol across all peers.</summary>
    public ResourceLimits Protocol { get; init; } = new(Streams: 4096, Memory: 512L * 1024 * 1024);

    /// <summary>Per-protocol overrides of <see cref="Protocol"/>.</summary>
    public IReadOnlyDictionary<string, ResourceLimits> Protocols { get; init; } = new Dictionary<string, ResourceLimits>();

    /// <summary>One connection.</summary>
    public ResourceLimits Connection { get; init; } = new(Streams: 1024, Memory: 64L * 1024 * 1024);

    /// <summary>One inbound stream's handler buffers (large frames, chunks); <c>Streams</c> is unused and kept at 1.</summary>
    public ResourceLimits Stream { get; init; } = new(Streams: 1, Memory: 16L * 1024 * 1024);

    internal void Validate()
    {
        foreach (var limits in new[] { System, Peer, Protocol, Connection, Stream }.Concat(Protocols.Values))
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(limits.Streams, 1, nameof(ResourceLimits.Streams));
            ArgumentOutOfRangeException.ThrowIfLessThan(limits.Memory, 1, nameof(ResourceLimits.Memory));
        }
    }
}

/// <summary>The kind of a <see cref="ResourceScope"/>.</summary>
public enum ResourceScopeKind
{
    /// <summary>The whole host.</summary>
    System,

    /// <summary>One remote peer.</summary>
    Peer,

    /// <summary>One protocol.</summary>
    Protocol,

    /// <summary>One connection.</summary>
    Connection,

    /// <summary>One stream (its handler's buffers), charged to its connection, peer and protocol too.</summary>
    Stream,
}

/// <summary>A refused reservation: which scope was full and of what.</summary>
public sealed class ResourceLimitExceededException(string reason, string message) : IOException(message)
{
    /// <summary>A short tag such as <c>peer-memory</c> or <c>system-streams</c>.</summary>
    public string Reason { get; } = reason;
}
