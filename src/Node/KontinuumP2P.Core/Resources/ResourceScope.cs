namespace KontinuumP2P.Core.Resources;

/// <summary>
/// One scope of a <see cref="ResourceManager"/>: a reservation here is also made in every ancestor (connection → peer
/// → system; protocol → system) or in none. Thread-safe (the manager's lock covers the whole tree).
/// </summary>
public sealed class ResourceScope : IDisposable
{
    private readonly ResourceManager _manager;
    private readonly ResourceScope[] _chain;
    private bool _disposed;

    internal ResourceScope(ResourceManager manager, ResourceScopeKind kind, string name, ResourceLimits limits, params ResourceScope[] parents)
    {
        _manager = manager;
        Kind = kind;
        Name = name;
        Limits = limits;
        _chain = [this, .. parents];
    }

    /// <summary>The peer of a connection scope.</summary>
    internal Identity.PeerId? Peer { get; init; }

    /// <summary>The kind of scope.</summary>
    public ResourceScopeKind Kind { get; }

    /// <summary>The peer id, protocol id or connection id; <c>system</c> for the system scope.</summary>
    public string Name { get; }

    /// <summary>The limits of this scope.</summary>
    public ResourceLimits Limits { get; }

    /// <summary>Streams held now.</summary>
    public int Streams { get; internal set; }

    /// <summary>Bytes reserved now.</summary>
    public long Memory { get; internal set; }

    /// <summary>Reserves one stream here and in every ancestor; null on success, else the refusal reason (e.g. <c>peer-streams</c>).</summary>
    public string? TryAddStream() => _manager.TryReserve(this, _chain, streams: 1, memory: 0);

    /// <summary>Releases one stream.</summary>
    public void RemoveStream() => _manager.Release(this, _chain, streams: 1, memory: 0);

    /// <summary>Reserves <paramref name="bytes"/> here and in every ancestor; null on success, else the refusal reason (e.g. <c>connection-memory</c>).</summary>
    public string? TryReserveMemory(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        return bytes == 0 ? null : _manager.TryReserve(this, _chain, streams: 0, memory: bytes);
    }

    /// <summary>Releases <paramref name="bytes"/> reserved earlier.</summary>
    public void ReleaseMemory(long bytes)
    {
        if (bytes > 0) _manager.Release(this, _chain, streams: 0, memory: bytes);
    }

    /// <summary>Ends a connection scope: whatever it still holds is released from its ancestors.</summary>
    public void Dispose()
    {
        if (Kind != ResourceScopeKind.Connection) return;
        _manager.Close(this, _chain, ref _disposed);
    }
}
