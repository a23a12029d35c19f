using System.Runtime.InteropServices;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Dht.Routing;

/// <summary>
/// The Kademlia routing table: 256 k-buckets by common-prefix length with our kad id, a small replacement cache per
/// bucket and IP-group diversity limits. Sans-I/O: callers pass the time in and do any pinging themselves. Buckets are
/// created on first use so an idle table costs a few hundred bytes. Not thread-safe; the owner serialises access.
/// </summary>
public sealed partial class RoutingTable
{
    private readonly KBucket?[] _buckets = new KBucket?[KadId.Bits];
    private readonly Dictionary<string, int> _groupCounts = [];
    private readonly RoutingTableOptions _options;
    private readonly Func<PeerId, bool> _mayPromote;
    private int _count;
    private int _deepestBucket; // the deepest bucket ever created (buckets are never dropped): walks stop there

    /// <summary>Creates an empty table for <paramref name="localPeer"/>.</summary>
    /// <param name="localPeer">Our peer id.</param>
    /// <param name="options">Limits.</param>
    /// <param name="mayPromote">Asked before a replacement-cache entry is promoted (admission may have changed since it was cached).</param>
    public RoutingTable(PeerId localPeer, RoutingTableOptions? options = null, Func<PeerId, bool>? mayPromote = null)
    {
        _mayPromote = mayPromote ?? (static _ => true);
        LocalPeer = localPeer;
        LocalId = KadId.FromPeer(localPeer);
        _options = options ?? new RoutingTableOptions();
    }

    /// <summary>Our peer id.</summary>
    public PeerId LocalPeer { get; }

    /// <summary>Our kad id.</summary>
    public KadId LocalId { get; }

    /// <summary>Number of entries (replacement caches excluded).</summary>
    public int Count => _count;

    /// <summary>
    /// Called (under the owner's serialisation) with true when a peer becomes an entry and false when it stops being
    /// one; replacement caches excluded. The DHT uses it to protect table peers in the peer store.
    /// </summary>
    public Action<PeerId, bool>? MembershipChanged { get; init; }

    /// <summary>The limits in force.</summary>
    public RoutingTableOptions Options => _options;

    /// <summary>Adds or refreshes a peer that has just answered a request.</summary>
    /// <remarks>
    /// The IP-diversity group comes from <paramref name="observedAddresses"/> when given (the addresses we actually
    /// see the peer at), else from <paramref name="addresses"/>, which the peer reported itself and could choose.
    /// </remarks>
    public RoutingTableAddResult TryAdd(PeerId peer, IReadOnlyList<Multiaddr> addresses, DateTimeOffset now, IReadOnlyList<Multiaddr>? observedAddresses = null)
    {
        if (peer == LocalPeer) return new(RoutingTableAddStatus.RejectedSelf);
        var id = KadId.FromPeer(peer);
        var index = BucketIndex(id);
        var bucket = _buckets[index] ??= new KBucket();
        _deepestBucket = Math.Max(_deepestBucket, index);
        var existing = bucket.Find(id);
        if (existing is not null)
        {
            bucket.Remove(existing);
            existing.LastSeen = now;
            if (addresses.Count > 0) existing.Addresses = addresses;
            bucket.Entries.Add(existing);
            return new(RoutingTableAddStatus.Updated);
        }
        var group = GroupOf(observedAddresses is { Count: > 0 } ? observedAddresses : addresses);
        if (!DiversityAllows(bucket, group)) return new(RoutingTableAddStatus.RejectedDiversity);
        var entry = new KBucket.Entry(peer, id, addresses, now, group);
        if (bucket.Entries.Count < _options.BucketSize)
        {
            Insert(bucket, entry);
            return new(RoutingTableAddStatus.Added);
        }
        if (_options.ClosestFirstDeepBuckets && IsDeep(index) && Farthest(bucket.Entries) is { } farthest
            && id.DistanceTo(LocalId) < farthest.Id.DistanceTo(LocalId))
        {
            // Our k closest peers live in the deep buckets: a closer peer that has just answered displaces the farthest
            // entry, which stays in the replacement cache. Removing it only relaxes the diversity limits checked above.
            bucket.Remove(farthest);
            _count--;
            MembershipChanged?.Invoke(farthest.PeerId, false); // no longer protected as a table member
            ReleaseGroup(farthest.Group);
            Insert(bucket, entry);
            bucket.RememberReplacement(farthest, _options.ReplacementCacheSize);
            return new(RoutingTableAddStatus.AddedReplacingFarther, farthest.PeerId);
        }
        bucket.RememberReplacement(entry, _options.ReplacementCacheSize);
        return new(RoutingTableAddStatus.BucketFull, bucket.Entries[0].PeerId);
    }

    /// <summary>
    /// Whether bucket <paramref name="index"/> may hold some of our k closest peers: all deeper buckets together hold
    /// fewer than k entries. Only such buckets are kept closest-first; the others keep long-lived entries.
    /// </summary>
    private bool IsDeep(int index)
    {
        var deeper = 0;
        for (var i = index + 1; i < _buckets.Length && deeper < _options.BucketSize; i++) deeper += _buckets[i]?.Entries.Count ?? 0;
        return deeper < _options.BucketSize;
    }

    private KBucket.Entry? Farthest(List<KBucket.Entry> entries)
    {
        KBucket.Entry? farthest = null;
        foreach (var entry in entries)
        {
            if (farthest is null || entry.Id.DistanceTo(LocalId) > farthest.Id.DistanceTo(LocalId)) farthest = entry;
        }
        return farthest;
    }

    /// <summary>Records that a present peer answered (a ping before eviction succeeded). False when absent.</summary>
    public bool MarkSeen(PeerId peer, DateTimeOffset now)
    {
        var id = KadId.FromPeer(peer);
        var bucket = _buckets[BucketIndex(id)];
        var entry = bucket?.Find(id);
        if (bucket is null || entry is null) return false;
        bucket.Remove(entry);
        entry.LastSeen = now;
        bucket.Entries.Add(entry);
        return true;
    }

    /// <summary>
    /// Removes a peer (it failed to answer); the most recent replacement that the diversity limits allow takes its
    /// place. Returns false when the peer was absent.
    /// </summary>
    public bool Remove(PeerId peer)
    {
        var id = KadId.FromPeer(peer);
        var bucket = _buckets[BucketIndex(id)];
        var entry = bucket?.Find(id);
        if (bucket is null) return false;
        if (entry is null)
        {
            bucket.Replacements.RemoveAll(r => r.PeerId == peer);
            return false;
        }
        bucket.Remove(entry);
        _count--;
        MembershipChanged?.Invoke(peer, false);
        ReleaseGroup(entry.Group);
        // A deep bucket promotes its closest candidate, the others their most recent one.
        var closestFirst = _options.ClosestFirstDeepBuckets && IsDeep(BucketIndex(entry.Id));
        var chosen = -1;
        for (var i = bucket.Replacements.Count - 1; i >= 0; i--)
        {
            var candidate = bucket.Replacements[i];
            if (!_mayPromote(candidate.PeerId))
            {
                bucket.Replacements.RemoveAt(i);
                if (chosen > i) chosen--;
                continue;
            }
            if (!DiversityAllows(bucket, candidate.Group)) continue;
            if (chosen < 0 || closestFirst && candidate.Id.DistanceTo(LocalId) < bucket.Replacements[chosen].Id.DistanceTo(LocalId)) chosen = i;
            if (!closestFirst) break;
        }
        if (chosen >= 0)
        {
            var promoted = bucket.Replacements[chosen];
            bucket.Replacements.RemoveAt(chosen);
            Insert(bucket, promoted);
        }
        return true;
    }

    /// <summary>
    /// Whether a peer that is not an entry could become one now (go-libp2p-kbucket's "useful new peer"): its bucket
    /// has room, or it is closer than the farthest entry of a deep bucket, or the bucket's least-recently-seen entry
    /// was last heard from before <paramref name="staleBefore"/> and may be evicted. Verifying a candidate that cannot
    /// enter only costs requests. False for entries and for ourselves.
    /// </summary>
    internal bool CouldEnter(PeerId peer, DateTimeOffset staleBefore)
    {
        if (peer == LocalPeer) return false;
        var id = KadId.FromPeer(peer);
        var index = BucketIndex(id);
        if (_buckets[index] is not { } bucket) return true;
        if (bucket.Find(id) is not null) return false;
        if (bucket.Entries.Count < _options.BucketSize || bucket.Entries[0].LastSeen < staleBefore) return true;
        return _options.ClosestFirstDeepBuckets && IsDeep(index) && Farthest(bucket.Entries) is { } farthest
            && id.DistanceTo(LocalId) < farthest.Id.DistanceTo(LocalId);
    }

    /// <summary>
    /// Whether bucket <paramref name="index"/> is full and even its least-recently-seen entry was heard from at or after
    /// <paramref name="staleBefore"/>: a refresh lookup could neither fill it nor find a dead entry in it.
    /// </summary>
    internal bool IsFullAndFresh(int index, DateTimeOffset staleBefore) =>
        _buckets[index] is { } bucket && bucket.Entries.Count >= _options.BucketSize && bucket.Entries[0].LastSeen >= staleBefore;

    /// <summary>Whether <paramref name="peer"/> is an entry last heard from before <paramref name="staleBefore"/>.</summary>
    internal bool IsStale(PeerId peer, DateTimeOffset staleBefore) =>
        EntryOf(peer) is { } entry && entry.LastSeen < staleBefore;

    /// <summary>Whether <paramref name="peer"/> is an entry.</summary>
    public bool Contains(PeerId peer) => EntryOf(peer) is not null;

    /// <summary>The entry of <paramref name="peer"/>, or null.</summary>
    public RoutingTableEntry? Get(PeerId peer) => EntryOf(peer)?.ToView();

    private KBucket.Entry? EntryOf(PeerId peer)
    {
        var id = KadId.FromPeer(peer);
        return _buckets[BucketIndex(id)]?.Find(id);
    }

    /// <summary>Number of entries in bucket <paramref name="index"/> (0 = farthest half of the key space).</summary>
    public int BucketSize(int index) => _buckets[index]?.Entries.Count ?? 0;

    /// <summary>Indices of the buckets holding at least one entry.</summary>
    public IReadOnlyList<int> NonEmptyBuckets()
    {
        var list = new List<int>();
        for (var i = 0; i < _buckets.Length; i++) if (_buckets[i] is { Entries.Count: > 0 }) list.Add(i);
        return list;
    }

    /// <summary>The least-recently-seen entry of each bucket whose last contact is older than <paramref name="before"/>.</summary>
    public IReadOnlyList<PeerId> StaleEntries(DateTimeOffset before)
    {
        var list = new List<PeerId>();
        foreach (var bucket in _buckets)
        {
            if (bucket is { Entries.Count: > 0 } && bucket.Entries[0].LastSeen < before) list.Add(bucket.Entries[0].PeerId);
        }
        return list;
    }

    /// <summary>Every entry, bucket by bucket, least recently seen first within a bucket.</summary>
    public IReadOnlyList<RoutingTableEntry> Snapshot()
    {
        var list = new List<RoutingTableEntry>(_count);
        foreach (var bucket in _buckets)
        {
            if (bucket is null) continue;
            foreach (var entry in bucket.Entries) list.Add(entry.ToView());
        }
        return list;
    }

    /// <summary>
    /// The peers of the entries that <paramref name="match"/> picks, in <see cref="Snapshot"/>'s order; null when none (no
    /// view object per entry, nothing allocated in the common case of no match). The entry itself is passed, so that
    /// the admission answer kept beside it can be read.
    /// </summary>
    internal List<PeerId>? EntriesWhere(Func<KBucket.Entry, bool> match)
    {
        List<PeerId>? list = null;
        foreach (var bucket in _buckets)
        {
            if (bucket is null) continue;
            foreach (var entry in bucket.Entries)
            {
                if (match(entry)) (list ??= []).Add(entry.PeerId);
            }
        }
        return list;
    }

    /// <summary>Bucket index of an id: its common-prefix length with ours (255 at most for ids other than ours).</summary>
    public int BucketIndex(KadId id) => Math.Min(LocalId.CommonPrefixLength(id), KadId.Bits - 1);

    private void Insert(KBucket bucket, KBucket.Entry entry)
    {
        bucket.Entries.Add(entry);
        _count++;
        MembershipChanged?.Invoke(entry.PeerId, true);
        if (entry.Group is not null) _groupCounts[entry.Group] = _groupCounts.GetValueOrDefault(entry.Group) + 1;
    }

    private void ReleaseGroup(string? group)
    {
        if (group is null) return;
        var left = _groupCounts.GetValueOrDefault(group) - 1;
        if (left <= 0) _groupCounts.Remove(group);
        else _groupCounts[group] = left;
    }

    private string? GroupOf(IReadOnlyList<Multiaddr> addresses) =>
        _options.DiversityLimitsEnabled ? IpGroup.Of(addresses, _options.ApplyDiversityToLoopback) : null;

    private bool DiversityAllows(KBucket bucket, string? group)
    {
        if (group is null) return true;
        if (_groupCounts.GetValueOrDefault(group) >= _options.MaxPerGroupPerTable) return false;
        var inBucket = 0;
        foreach (var entry in bucket.Entries) if (entry.Group == group) inBucket++;
        return inBucket < _options.MaxPerGroupPerBucket;
    }

    internal sealed class KBucket
    {
        public readonly List<Entry> Entries = [];
        public readonly List<Entry> Replacements = [];

        /// <summary>
        /// The entry with kad id <paramref name="id"/> (a peer's id is the SHA-256 of its peer id, so this finds the
        /// peer): compared by the id the entry holds, so no peer object is read.
        /// </summary>
        public Entry? Find(KadId id)
        {
            foreach (var entry in CollectionsMarshal.AsSpan(Entries)) if (entry.Id == id) return entry;
            return null;
        }

        public void Remove(Entry entry) => Entries.Remove(entry);

        public void RememberReplacement(Entry entry, int capacity)
        {
            if (capacity <= 0) return;
            Replacements.RemoveAll(r => r.PeerId == entry.PeerId);
            if (Replacements.Count >= capacity) Replacements.RemoveAt(0);
            Replacements.Add(entry);
        }

        public sealed class Entry(PeerId peer, KadId id, IReadOnlyList<Multiaddr> addresses, DateTimeOffset lastSeen, string? group)
        {
            public PeerId PeerId { get; } = peer;
            public KadId Id { get; } = id;
            public IReadOnlyList<Multiaddr> Addresses { get; set; } = addresses;
            public DateTimeOffset LastSeen { get; set; } = lastSeen;
            public string? Group { get; } = group;

            /// <summary>
            /// The admission generation at which the peer was last found held and servable (see
            /// <see cref="IAdmissionGeneration"/>), -1 when never: while the admission's generation still equals it, the
            /// answer would be the same, so the server's answer need not ask admission again. Written without the
            /// owner's lock (a benign race: any value written was true at its generation).
            /// </summary>
            public long ServableGeneration = -1;

            /// <summary>
            /// The peer as the server's answer last handed it out (immutable, so shared by answers): reused while its
            /// addresses are the same list. Written without the owner's lock (a benign race: any value written is the
            /// peer with addresses it had).
            /// </summary>
            public Rpc.KadPeer? Served;

            public RoutingTableEntry ToView() => new(PeerId, Addresses, LastSeen);
        }
    }
}
