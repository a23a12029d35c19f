namespace KontinuumP2P.Core.Resources;

/// <summary>
/// One scope of a <see cref="ResourceManager"/>: a reservation here is also made in every ancestor (connection → peer
/// → system; protocol → system; stream → connection → peer → protocol → system) or in none. Thread-safe (the manager's lock covers the whole tree).
/// </summary>
public sealed class ResourceScope : IDisposable
{
    private readonly ResourceManager _manager;
    private readonly ResourceScope[] _chain;

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

    /// <summary>The connection of a stream scope.</summary>
    internal ResourceScope? Parent { get; init; }

    /// <summary>This scope and every scope a reservation in it also counts in.</summary>
    internal ResourceScope[] Chain => _chain;

    /// <summary>Open stream scopes of a connection scope (guarded by the manager's lock).</summary>
    internal List<ResourceScope> Children { get; } = [];

    /// <summary>Set once a connection or stream scope has released everything (guarded by the manager's lock).</summary>
    internal bool Closed { get; set; }

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

    /// <summary>Reserves <paramref name="bytes"/> here and in every ancestor, or throws naming the full scope.</summary>
    /// <param name="bytes">Bytes about to be allocated.</param>
    /// <param name="purpose">What they are for, for the message (e.g. <c>a 1 MiB mailbox frame</c>).</param>
    /// <exception cref="ResourceLimitExceededException">A scope would go over its memory limit (or this scope is closed).</exception>
    public void ReserveMemory(long bytes, string purpose)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0 || _manager.TryReserve(this, _chain, 0, bytes, out var full) is not { } refusal) return;
        throw new ResourceLimitExceededException(refusal, full is null || full.Closed
            ? $"{refusal}: the {Kind.ToString().ToLowerInvariant()} scope {Name} is closed; {bytes} bytes for {purpose} refused"
            : $"{refusal}: {bytes} bytes for {purpose} would take the {full.Kind.ToString().ToLowerInvariant()} scope {full.Name} "
              + $"over its limit ({full.Memory} of {full.Limits.Memory} bytes in use)");
    }

    /// <summary>Releases <paramref name="bytes"/> reserved earlier.</summary>
    public void ReleaseMemory(long bytes)
    {
        if (bytes > 0) _manager.Release(this, _chain, streams: 0, memory: bytes);
    }

    /// <summary>Ends a connection or stream scope: whatever it (and a connection's streams) still holds is released from its ancestors.</summary>
    public void Dispose()
    {
        if (Kind is not (ResourceScopeKind.Connection or ResourceScopeKind.Stream)) return;
        _manager.Close(this);
    }
}
