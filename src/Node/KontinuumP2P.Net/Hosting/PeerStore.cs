using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Hosting;

/// <summary>
/// An in-memory, bounded <see cref="IPeerStore"/>: at most <c>capacity</c> peers (the least recently updated are
/// forgotten first), <see cref="MaxAddressesPerPeer"/> addresses and <see cref="MaxProtocolsPerPeer"/> protocols per
/// peer; addresses expire after their TTL on the injected clock. Thread-safe.
/// </summary>
public sealed class PeerStore : IPeerStore
{
    /// <summary>Addresses kept per peer (the ones expiring last win).</summary>
    public const int MaxAddressesPerPeer = 32;

    /// <summary>Protocols kept per peer.</summary>
    public const int MaxProtocolsPerPeer = 128;

    /// <summary>Longest protocol id or agent version kept.</summary>
    public const int MaxTextLength = 256;

    private readonly Dictionary<PeerId, Entry> _peers = [];
    private readonly Lock _lock = new();
    private readonly int _capacity;
    private readonly TimeProvider _timeProvider;
    private long _clock;

    /// <summary>Creates a store for at most <paramref name="capacity"/> peers.</summary>
    public PeerStore(int capacity, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _timeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
    }

    /// <inheritdoc />
    public int Count
    {
        get
        {
            lock (_lock) return _peers.Count;
        }
    }

    /// <inheritdoc />
    public void AddAddresses(PeerId peer, IEnumerable<Multiaddr> addresses, TimeSpan ttl)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(addresses);
        var now = _timeProvider.GetUtcNow();
        var expires = ttl == TimeSpan.MaxValue || ttl == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : now + ttl;
        lock (_lock)
        {
            var entry = Touch(peer);
            foreach (var address in addresses)
            {
                var bare = address.WithoutPeerId();
                if (bare.IsEmpty) continue;
                if (!entry.Addresses.TryGetValue(bare, out var current) || current < expires) entry.Addresses[bare] = expires;
            }
            Prune(entry, now);
        }
    }

    /// <inheritdoc />
    public void SetProtocols(PeerId peer, IEnumerable<string> protocols)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(protocols);
        var kept = protocols.Where(p => p.Length is > 0 and <= MaxTextLength).Distinct(StringComparer.Ordinal).Take(MaxProtocolsPerPeer);
        var set = new HashSet<string>(kept, StringComparer.Ordinal);
        lock (_lock) Touch(peer).Protocols = set;
    }

    /// <inheritdoc />
    public void SetPublicKey(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (!peer.Matches(encodedPublicKey.Span)) throw new ArgumentException($"the key does not belong to {peer}", nameof(encodedPublicKey));
        var copy = encodedPublicKey.ToArray();
        lock (_lock) Touch(peer).PublicKey = copy;
    }

    /// <inheritdoc />
    public void SetAgentVersion(PeerId peer, string agentVersion)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(agentVersion);
        var kept = agentVersion.Length <= MaxTextLength ? agentVersion : agentVersion[..MaxTextLength];
        lock (_lock) Touch(peer).AgentVersion = kept;
    }

    /// <inheritdoc />
    public IReadOnlyList<Multiaddr> GetAddresses(PeerId peer)
    {
        var now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (!_peers.TryGetValue(peer, out var entry)) return [];
            Prune(entry, now);
            return [.. entry.Addresses.Keys];
        }
    }

    /// <inheritdoc />
    public PeerInfo? Get(PeerId peer)
    {
        var now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (!_peers.TryGetValue(peer, out var entry)) return null;
            Prune(entry, now);
            return new PeerInfo(peer, [.. entry.Addresses.Keys], entry.Protocols.ToHashSet(StringComparer.Ordinal),
                entry.PublicKey is { } key ? (ReadOnlyMemory<byte>?)key : null, entry.AgentVersion);
        }
    }

    /// <inheritdoc />
    public void Remove(PeerId peer)
    {
        lock (_lock) _peers.Remove(peer);
    }

    private Entry Touch(PeerId peer)
    {
        if (!_peers.TryGetValue(peer, out var entry))
        {
            if (_peers.Count >= _capacity) Evict();
            entry = new Entry();
            _peers[peer] = entry;
        }
        entry.LastUpdate = ++_clock;
        return entry;
    }

    private void Evict()
    {
        // Linear scan only when full; keeps the common path allocation-free and the structure simple.
        PeerId? oldest = null;
        var oldestUpdate = long.MaxValue;
        foreach (var (id, entry) in _peers)
        {
            if (entry.LastUpdate < oldestUpdate)
            {
                oldestUpdate = entry.LastUpdate;
                oldest = id;
            }
        }
        if (oldest is not null) _peers.Remove(oldest);
    }

    private static void Prune(Entry entry, DateTimeOffset now)
    {
        List<Multiaddr>? expired = null;
        foreach (var (address, expires) in entry.Addresses)
            if (expires <= now) (expired ??= []).Add(address);
        if (expired is not null) foreach (var address in expired) entry.Addresses.Remove(address);
        if (entry.Addresses.Count <= MaxAddressesPerPeer) return;
        foreach (var (address, _) in entry.Addresses.OrderBy(a => a.Value).Take(entry.Addresses.Count - MaxAddressesPerPeer).ToList())
            entry.Addresses.Remove(address);
    }

    private sealed class Entry
    {
        public Dictionary<Multiaddr, DateTimeOffset> Addresses { get; } = [];
        public HashSet<string> Protocols { get; set; } = new(StringComparer.Ordinal);
        public byte[]? PublicKey { get; set; }
        public string? AgentVersion { get; set; }
        public long LastUpdate { get; set; }
    }
}
