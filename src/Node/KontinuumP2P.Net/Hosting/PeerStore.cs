using System.Collections.ObjectModel;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Hosting;

/// <summary>
/// An in-memory, bounded <see cref="IPeerStore"/>. Peers the store heard about first-hand (a connection, identify, a
/// proven key) live in one pool of <c>capacity</c>; peers only named by others (<see cref="AddSecondHandAddresses"/>)
/// live in a smaller pool whose addresses expire after <see cref="SecondHandTtl"/>, so a flood of names from kad
/// answers or mDNS cannot push out peers we talk to. Each pool forgets its least recently updated unprotected peer
/// first, in O(1); protected peers (connected, in a routing table) are never evicted, and when a pool holds only
/// protected peers a new unprotected one is not stored. At most <see cref="MaxAddressesPerPeer"/> addresses and
/// <see cref="MaxProtocolsPerPeer"/> protocols per peer. Thread-safe.
/// </summary>
public sealed class PeerStore : IPeerStore
{
    /// <summary>Addresses kept per peer (the ones expiring last win).</summary>
    public const int MaxAddressesPerPeer = 32;

    /// <summary>Protocols kept per peer.</summary>
    public const int MaxProtocolsPerPeer = 128;

    /// <summary>Longest protocol id or agent version kept.</summary>
    public const int MaxTextLength = 256;

    /// <summary>Most protection tags on one peer (tags come from our own services, not from peers).</summary>
    public const int MaxProtectionTags = 8;

    private readonly Dictionary<PeerId, Entry> _peers = [];
    private readonly LinkedList<Entry> _firstHand = new();
    private readonly LinkedList<Entry> _secondHand = new();
    private readonly Lock _lock = new();
    private readonly int _capacity;
    private readonly int _secondHandCapacity;
    private readonly TimeProvider _timeProvider;
    private int _firstHandCount;
    private int _secondHandCount;

    /// <summary>Creates a store for at most <paramref name="capacity"/> peers known first-hand, a quarter of that (at least 1) known second-hand, second-hand addresses living 10 minutes.</summary>
    public PeerStore(int capacity, TimeProvider timeProvider)
        : this(capacity, Math.Max(1, capacity / 4), TimeSpan.FromMinutes(10), timeProvider)
    {
    }

    /// <summary>Creates a store with explicit pools.</summary>
    /// <param name="capacity">Most peers known first-hand.</param>
    /// <param name="secondHandCapacity">Most peers known only from what others said.</param>
    /// <param name="secondHandTtl">Longest lifetime of a second-hand address.</param>
    /// <param name="timeProvider">The clock addresses expire on.</param>
    public PeerStore(int capacity, int secondHandCapacity, TimeSpan secondHandTtl, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(secondHandCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(secondHandTtl, TimeSpan.Zero);
        _capacity = capacity;
        _secondHandCapacity = secondHandCapacity;
        SecondHandTtl = secondHandTtl;
        _timeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
    }

    /// <summary>Longest lifetime of an address learnt second-hand.</summary>
    public TimeSpan SecondHandTtl { get; }

    /// <inheritdoc />
    public int Count
    {
        get
        {
            lock (_lock) return _peers.Count;
        }
    }

    /// <summary>Peers known only second-hand.</summary>
    public int SecondHandCount
    {
        get
        {
            lock (_lock) return _secondHandCount;
        }
    }

    /// <inheritdoc />
    public void AddAddresses(PeerId peer, IEnumerable<Multiaddr> addresses, TimeSpan ttl) => Add(peer, addresses, ttl, firstHand: true);

    /// <inheritdoc />
    public void AddSecondHandAddresses(PeerId peer, IEnumerable<Multiaddr> addresses, TimeSpan ttl) =>
        Add(peer, addresses, ttl < SecondHandTtl ? ttl : SecondHandTtl, firstHand: false);

    /// <inheritdoc />
    public void SetProtocols(PeerId peer, IEnumerable<string> protocols)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(protocols);
        var kept = protocols.Where(p => p.Length is > 0 and <= MaxTextLength).Distinct(StringComparer.Ordinal).Take(MaxProtocolsPerPeer);
        var set = new HashSet<string>(kept, StringComparer.Ordinal);
        lock (_lock)
        {
            if (Touch(peer, firstHand: true) is { } entry) entry.Protocols = set;
        }
    }

    /// <inheritdoc />
    public void SetPublicKey(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (!peer.Matches(encodedPublicKey.Span)) throw new ArgumentException($"the key does not belong to {peer}", nameof(encodedPublicKey));
        var copy = encodedPublicKey.ToArray();
        lock (_lock)
        {
            if (Touch(peer, firstHand: true) is { } entry) entry.PublicKey = copy;
        }
    }

    /// <inheritdoc />
    public void SetAgentVersion(PeerId peer, string agentVersion)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(agentVersion);
        var kept = agentVersion.Length <= MaxTextLength ? agentVersion : agentVersion[..MaxTextLength];
        lock (_lock)
        {
            if (Touch(peer, firstHand: true) is { } entry) entry.AgentVersion = kept;
        }
    }

    /// <inheritdoc />
    public void Protect(PeerId peer, string tag)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentException.ThrowIfNullOrEmpty(tag);
        lock (_lock)
        {
            if (!_peers.TryGetValue(peer, out var entry))
            {
                // A protected peer is one we deal with directly: it belongs in the first-hand pool.
                entry = new Entry(peer) { FirstHand = true };
                _peers[peer] = entry;
                _firstHandCount++;
            }
            else if (!entry.FirstHand)
            {
                Unlink(entry);
                _secondHandCount--;
                _firstHandCount++;
                entry.FirstHand = true;
            }
            else Unlink(entry);
            if (entry.Tags.Count < MaxProtectionTags || entry.Tags.Contains(tag)) entry.Tags.Add(tag);
        }
    }

    /// <inheritdoc />
    public bool Unprotect(PeerId peer, string tag)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            if (!_peers.TryGetValue(peer, out var entry)) return false;
            entry.Tags.Remove(tag);
            if (entry.Tags.Count > 0) return true;
            if (entry.Node is null) entry.Node = _firstHand.AddLast(entry);
            EvictOverflow(_firstHand, ref _firstHandCount, _capacity);
            return false;
        }
    }

    /// <summary>Whether any tag protects <paramref name="peer"/>.</summary>
    public bool IsProtected(PeerId peer)
    {
        lock (_lock) return _peers.TryGetValue(peer, out var entry) && entry.Tags.Count > 0;
    }

    /// <inheritdoc />
    public IReadOnlyList<Multiaddr> GetAddresses(PeerId peer)
    {
        var now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (!_peers.TryGetValue(peer, out var entry)) return [];
            Prune(entry, now);
            return AddressListOf(entry);
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
            return new PeerInfo(peer, AddressListOf(entry), entry.Protocols.ToHashSet(StringComparer.Ordinal),
                entry.PublicKey is { } key ? (ReadOnlyMemory<byte>?)key : null, entry.AgentVersion);
        }
    }

    /// <inheritdoc />
    public void Remove(PeerId peer)
    {
        lock (_lock)
        {
            if (_peers.TryGetValue(peer, out var entry)) Forget(entry);
        }
    }

    private void Add(PeerId peer, IEnumerable<Multiaddr> addresses, TimeSpan ttl, bool firstHand)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(addresses);
        var now = _timeProvider.GetUtcNow();
        var expires = ttl == TimeSpan.MaxValue || ttl == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : now + ttl;
        lock (_lock)
        {
            if (Touch(peer, firstHand) is not { } entry) return;
            foreach (var address in addresses)
            {
                var bare = address.WithoutPeerId();
                if (bare.IsEmpty) continue;
                if (!entry.Addresses.TryGetValue(bare, out var current))
                {
                    entry.Addresses[bare] = expires;
                    entry.AddressList = null;
                }
                else if (current < expires) entry.Addresses[bare] = expires;
            }
            Prune(entry, now);
        }
    }

    /// <summary>Finds or creates the entry and marks it most recently updated; null when its pool is full of protected peers.</summary>
    private Entry? Touch(PeerId peer, bool firstHand)
    {
        if (_peers.TryGetValue(peer, out var entry))
        {
            if (firstHand && !entry.FirstHand)
            {
                Unlink(entry);
                _secondHandCount--;
                entry.FirstHand = true;
                _firstHandCount++;
            }
        }
        else
        {
            entry = new Entry(peer) { FirstHand = firstHand };
            if (firstHand) _firstHandCount++;
            else _secondHandCount++;
            _peers[peer] = entry;
        }
        if (entry.Tags.Count > 0) return entry;
        var list = entry.FirstHand ? _firstHand : _secondHand;
        if (entry.Node is null) entry.Node = list.AddLast(entry);
        else if (entry.Node != list.Last)
        {
            list.Remove(entry.Node);
            list.AddLast(entry.Node);
        }
        if (entry.FirstHand) EvictOverflow(_firstHand, ref _firstHandCount, _capacity);
        else EvictOverflow(_secondHand, ref _secondHandCount, _secondHandCapacity);
        return _peers.ContainsKey(peer) ? entry : null;
    }

    private void EvictOverflow(LinkedList<Entry> list, ref int count, int capacity)
    {
        // Only unprotected entries are linked, so the head is always evictable: O(1) per eviction.
        while (count > capacity && list.First is { } oldest)
        {
            list.RemoveFirst();
            oldest.Value.Node = null;
            _peers.Remove(oldest.Value.PeerId);
            count--;
        }
    }

    private void Forget(Entry entry)
    {
        Unlink(entry);
        _peers.Remove(entry.PeerId);
        if (entry.FirstHand) _firstHandCount--;
        else _secondHandCount--;
    }

    private void Unlink(Entry entry)
    {
        if (entry.Node is null) return;
        entry.Node.List!.Remove(entry.Node);
        entry.Node = null;
    }

    // One read-only list per set of addresses: callers (a DHT server answering every request) may keep it and tell by
    // reference that nothing changed. Under the lock, after Prune.
    private static IReadOnlyList<Multiaddr> AddressListOf(Entry entry) =>
        entry.AddressList ??= entry.Addresses.Count == 0 ? ReadOnlyCollection<Multiaddr>.Empty : new ReadOnlyCollection<Multiaddr>([.. entry.Addresses.Keys]);

    private static void Prune(Entry entry, DateTimeOffset now)
    {
        List<Multiaddr>? expired = null;
        foreach (var (address, expires) in entry.Addresses)
            if (expires <= now) (expired ??= []).Add(address);
        if (expired is not null)
        {
            foreach (var address in expired) entry.Addresses.Remove(address);
            entry.AddressList = null;
        }
        if (entry.Addresses.Count <= MaxAddressesPerPeer) return;
        entry.AddressList = null;
        foreach (var (address, _) in entry.Addresses.OrderBy(a => a.Value).Take(entry.Addresses.Count - MaxAddressesPerPeer).ToList())
            entry.Addresses.Remove(address);
    }

    private sealed class Entry(PeerId peerId)
    {
        public PeerId PeerId { get; } = peerId;
        public Dictionary<Multiaddr, DateTimeOffset> Addresses { get; } = [];

        /// <summary>What <see cref="GetAddresses"/> hands out for the current set; null when the set has changed since.</summary>
        public IReadOnlyList<Multiaddr>? AddressList { get; set; }
        public HashSet<string> Protocols { get; set; } = new(StringComparer.Ordinal);
        public byte[]? PublicKey { get; set; }
        public string? AgentVersion { get; set; }
        public bool FirstHand { get; set; }
        public HashSet<string> Tags { get; } = new(StringComparer.Ordinal);
        public LinkedListNode<Entry>? Node { get; set; }
    }
}
