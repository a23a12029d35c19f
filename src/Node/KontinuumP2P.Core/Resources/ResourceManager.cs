using System.Diagnostics.Metrics;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Core.Resources;

/// <summary>
/// Counts streams and memory against system, peer, protocol and connection scopes and refuses a reservation that
/// would take any of them over its limit, naming the scope (the refusal reason is <c>kind-resource</c>, e.g.
/// <c>peer-memory</c>). Peer scopes exist while a connection to the peer does; protocol scopes are kept (they are
/// few and named by our own handlers). Metrics on the <see cref="MeterName"/> meter. Thread-safe.
/// </summary>
public sealed class ResourceManager : IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "KontinuumP2P.Resources";

    /// <summary>Most protocol scopes kept; further protocols share the <c>other</c> scope.</summary>
    public const int MaxProtocolScopes = 256;

    private readonly Lock _lock = new();
    private readonly ResourceManagerOptions _options;
    private readonly Dictionary<PeerId, (ResourceScope Scope, int Connections)> _peers = [];
    private readonly Dictionary<string, ResourceScope> _protocols = new(StringComparer.Ordinal);
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _refused;
    private long _nextConnection;

    /// <summary>Creates a manager; <paramref name="meterFactory"/> null gives a private meter nobody listens to.</summary>
    public ResourceManager(ResourceManagerOptions? options = null, IMeterFactory? meterFactory = null)
    {
        _options = options ?? new ResourceManagerOptions();
        _options.Validate();
        System = new ResourceScope(this, ResourceScopeKind.System, "system", _options.System);
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _refused = _meter.CreateCounter<long>("kontinuum.resources.refused", "{reservation}", "Reservations refused, by full scope kind and resource");
        _meter.CreateObservableGauge("kontinuum.resources.streams", () => Measure(s => s.Streams), "{stream}", "Streams held: the system scope, and the fullest peer and protocol scopes");
        _meter.CreateObservableGauge("kontinuum.resources.memory", () => Measure(s => s.Memory), "By", "Bytes reserved: the system scope, and the fullest peer and protocol scopes");
    }

    /// <summary>The system scope.</summary>
    public ResourceScope System { get; }

    /// <summary>Peer scopes alive (one per connected peer).</summary>
    public int PeerScopes
    {
        get
        {
            lock (_lock) return _peers.Count;
        }
    }

    /// <summary>Opens the scope of a new connection to <paramref name="peer"/>; dispose it when the connection ends.</summary>
    public ResourceScope OpenConnection(PeerId peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            var (scope, connections) = _peers.TryGetValue(peer, out var found)
                ? found
                : (new ResourceScope(this, ResourceScopeKind.Peer, peer.ToString(), _options.Peer, System), 0);
            _peers[peer] = (scope, connections + 1);
            var id = ++_nextConnection;
            return new ResourceScope(this, ResourceScopeKind.Connection, $"{peer}#{id}", _options.Connection, scope, System) { Peer = peer };
        }
    }

    /// <summary>
    /// Opens the scope of one stream of <paramref name="protocol"/> on <paramref name="connection"/> (null for a muxer
    /// without scopes): memory reserved in it counts in the connection, its peer, the protocol and the system. Dispose
    /// it when the stream ends; closing the connection closes it too.
    /// </summary>
    public ResourceScope OpenStream(ResourceScope? connection, ResourceScope protocol)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        if (connection is not null && connection.Kind != ResourceScopeKind.Connection) throw new ArgumentException("not a connection scope", nameof(connection));
        if (protocol.Kind != ResourceScopeKind.Protocol) throw new ArgumentException("not a protocol scope", nameof(protocol));
        lock (_lock)
        {
            // connection → peer → protocol → system, the system once.
            ResourceScope[] parents = connection is null ? [protocol, System] : [.. connection.Chain.Where(s => s.Kind != ResourceScopeKind.System), protocol, System];
            var scope = new ResourceScope(this, ResourceScopeKind.Stream, $"{connection?.Name ?? "?"}/{protocol.Name}", _options.Stream, parents) { Parent = connection };
            if (connection is not null)
            {
                // A stream opened on a closed connection starts closed: nothing can be reserved in it.
                if (connection.Closed) scope.Closed = true;
                else connection.Children.Add(scope);
            }
            return scope;
        }
    }

    /// <summary>The scope of <paramref name="protocol"/> (created on first use).</summary>
    public ResourceScope Protocol(string protocol)
    {
        ArgumentException.ThrowIfNullOrEmpty(protocol);
        lock (_lock)
        {
            if (_protocols.TryGetValue(protocol, out var scope)) return scope;
            var name = _protocols.Count < MaxProtocolScopes ? protocol : "other";
            if (_protocols.TryGetValue(name, out scope)) return scope;
            scope = new ResourceScope(this, ResourceScopeKind.Protocol, name,
                _options.Protocols.TryGetValue(protocol, out var limits) ? limits : _options.Protocol, System);
            _protocols[name] = scope;
            return scope;
        }
    }

    /// <summary>What a peer holds now (zero when it has no connection).</summary>
    public ResourceLimits PeerUsage(PeerId peer)
    {
        lock (_lock) return _peers.TryGetValue(peer, out var found) ? new(found.Scope.Streams, found.Scope.Memory) : default;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsMeter) _meter.Dispose();
    }

    internal string? TryReserve(ResourceScope owner, ResourceScope[] chain, int streams, long memory) =>
        TryReserve(owner, chain, streams, memory, out _);

    internal string? TryReserve(ResourceScope owner, ResourceScope[] chain, int streams, long memory, out ResourceScope? full)
    {
        string? refusal = null;
        full = null;
        lock (_lock)
        {
            // A closed scope has released everything; a reservation now would never be released.
            if (owner.Closed) (refusal, full) = (Reason(owner.Kind, "closed"), owner);
            else
            {
                foreach (var scope in chain)
                {
                    if (streams > 0 && scope.Streams + streams > scope.Limits.Streams) refusal = Reason(scope.Kind, "streams");
                    else if (memory > 0 && scope.Memory + memory > scope.Limits.Memory) refusal = Reason(scope.Kind, "memory");
                    if (refusal is null) continue;
                    full = scope;
                    break;
                }
            }
            if (refusal is null)
            {
                foreach (var scope in chain)
                {
                    scope.Streams += streams;
                    scope.Memory += memory;
                }
                return null;
            }
        }
        _refused.Add(1, new KeyValuePair<string, object?>("reason", refusal), new KeyValuePair<string, object?>("scope", owner.Kind.ToString().ToLowerInvariant()));
        return refusal;
    }

    internal void Release(ResourceScope owner, ResourceScope[] chain, int streams, long memory)
    {
        lock (_lock)
        {
            // Never below what the owner holds: a release after the connection closed (and released everything) is a no-op.
            streams = Math.Min(streams, owner.Streams);
            memory = Math.Min(memory, owner.Memory);
            foreach (var scope in chain)
            {
                scope.Streams -= streams;
                scope.Memory -= memory;
            }
        }
    }

    internal void Close(ResourceScope scope)
    {
        lock (_lock) CloseLocked(scope);
    }

    private void CloseLocked(ResourceScope scope)
    {
        if (scope.Closed) return;
        // Streams first: what they hold is in this scope too and must leave the protocol scopes as well.
        foreach (var child in scope.Children.ToArray()) CloseLocked(child);
        scope.Closed = true;
        var (streams, memory) = (scope.Streams, scope.Memory);
        foreach (var held in scope.Chain)
        {
            held.Streams -= streams;
            held.Memory -= memory;
        }
        scope.Parent?.Children.Remove(scope);
        if (scope.Peer is { } peer && _peers.TryGetValue(peer, out var found))
        {
            if (found.Connections <= 1) _peers.Remove(peer);
            else _peers[peer] = (found.Scope, found.Connections - 1);
        }
    }

    private static string Reason(ResourceScopeKind kind, string resource) => $"{kind.ToString().ToLowerInvariant()}-{resource}";

    private IEnumerable<Measurement<long>> Measure(Func<ResourceScope, long> value)
    {
        lock (_lock)
        {
            var result = new List<Measurement<long>> { new(value(System), new KeyValuePair<string, object?>("scope", "system")) };
            if (_peers.Count > 0) result.Add(new(_peers.Values.Max(p => value(p.Scope)), new KeyValuePair<string, object?>("scope", "peer")));
            if (_protocols.Count > 0) result.Add(new(_protocols.Values.Max(value), new KeyValuePair<string, object?>("scope", "protocol")));
            return result;
        }
    }
}
