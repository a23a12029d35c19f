using System.Runtime.InteropServices;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Dht.Routing;
/// <content>The closest-k selection: a walk over the buckets in distance order, no sort of the whole table.</content>
public sealed partial class RoutingTable
{
    /// <summary>The up to <paramref name="count"/> entries closest to <paramref name="target"/>, closest first.</summary>
    /// <remarks>
    /// No sort of the whole table: buckets are visited in distance order, each bucket a distance range of its own.
    /// With j the target's bucket index, every entry of bucket j is closer to the target than any other entry; the
    /// entries of all deeper buckets come next (their first bit differing from the target is bit j), in an order the
    /// bits of our id XOR the target fix (<see cref="SelectClosest"/>); then buckets j-1, j-2, … 0, each farther than
    /// the one before. Within a bucket, a bounded insertion selection keeps the entries still needed, so a call
    /// costs O(entries visited × log count) and stops at the first bucket that completes count.
    /// </remarks>
    public IReadOnlyList<RoutingTableEntry> Closest(KadId target, int count)
    {
        if (count <= 0 || _count == 0) return [];
        var take = Math.Min(count, _count);
        var chosen = System.Buffers.ArrayPool<(KadId Distance, KBucket.Entry Entry)>.Shared.Rent(take);
        try
        {
            var filled = SelectClosest(target, chosen, take, exclude: null);
            var result = new RoutingTableEntry[filled];
            for (var i = 0; i < filled; i++) result[i] = chosen[i].Entry.ToView();
            return result;
        }
        finally
        {
            Array.Clear(chosen, 0, take);
            System.Buffers.ArrayPool<(KadId, KBucket.Entry)>.Shared.Return(chosen);
        }
    }

    /// <summary>
    /// The same entries as <see cref="Closest"/>, written as peer and addresses into the caller's arrays (at most their
    /// shorter length) without allocating a view per entry; returns how many. For the server's answer to every request.
    /// <paramref name="exclude"/> (the requester) is passed over, so a server asks for exactly k: when the target's
    /// bucket holds k entries the deeper buckets are never read (asking for k + 1 and dropping the requester afterwards
    /// read every deeper entry to find the one spare).
    /// </summary>
    internal int ClosestInto(KadId target, PeerId[] peers, IReadOnlyList<Multiaddr>[] addresses, int count, PeerId? exclude = null)
    {
        var take = Math.Min(Math.Min(count, _count), Math.Min(peers.Length, addresses.Length));
        if (take <= 0) return 0;
        var entries = System.Buffers.ArrayPool<KBucket.Entry>.Shared.Rent(take);
        try
        {
            var filled = ClosestInto(target, entries, take, exclude);
            for (var i = 0; i < filled; i++) (peers[i], addresses[i]) = (entries[i].PeerId, entries[i].Addresses);
            return filled;
        }
        finally
        {
            Array.Clear(entries, 0, take);
            System.Buffers.ArrayPool<KBucket.Entry>.Shared.Return(entries);
        }
    }

    /// <summary>
    /// The same entries as <see cref="Closest"/>, the entry objects themselves into <paramref name="entries"/> (at most
    /// its length; the caller reads them under the owner's serialisation or accepts a benign race): the server's answer
    /// reads peer, addresses and the kept admission answer from each without another look-up.
    /// </summary>
    internal int ClosestInto(KadId target, KBucket.Entry[] entries, int count, PeerId? exclude = null)
    {
        var take = Math.Min(Math.Min(count, _count), entries.Length);
        if (take <= 0) return 0;
        var chosen = System.Buffers.ArrayPool<(KadId Distance, KBucket.Entry Entry)>.Shared.Rent(take);
        try
        {
            var filled = SelectClosest(target, chosen, take, exclude);
            for (var i = 0; i < filled; i++) entries[i] = chosen[i].Entry;
            return filled;
        }
        finally
        {
            Array.Clear(chosen, 0, take);
            System.Buffers.ArrayPool<(KadId, KBucket.Entry)>.Shared.Return(chosen);
        }
    }

    /// <summary>The bucket walk of <see cref="Closest"/>: fills <paramref name="chosen"/>[..take] closest first.</summary>
    /// <remarks>
    /// The deeper buckets' order: with D = our id XOR the target, an entry of bucket b (deeper than the target's
    /// bucket j) has the distance bits D for j &lt; i &lt; b and NOT D at bit b, while the entries of every bucket deeper
    /// than b have D at bit b. So bucket b is closer than all deeper buckets when D has bit b set, and farther than all
    /// of them otherwise: the buckets with the bit set come first, shallowest first, then those without, deepest first.
    /// Walking them one by one (rather than as one group) stops at the first bucket that completes the answer: a server
    /// that passes over the requester in a full target bucket reads one more bucket instead of every deeper entry.
    /// </remarks>
    private int SelectClosest(KadId target, (KadId Distance, KBucket.Entry Entry)[] chosen, int take, PeerId? exclude)
    {
        var home = BucketIndex(target);
        // The requester is recognised by its distance (an entry's id is its peer's kad id): no peer object is read.
        KadId? excluded = exclude is null ? null : KadId.FromPeer(exclude).DistanceTo(target);
        var filled = SelectFrom(home, target, chosen, 0, take, excluded);
        if (filled < take)
        {
            var distance = LocalId.DistanceTo(target);
            for (var index = home + 1; index <= _deepestBucket && filled < take; index++)
            {
                if (distance.IsBitSet(index)) filled = SelectFrom(index, target, chosen, filled, take, excluded);
            }
            for (var index = _deepestBucket; index > home && filled < take; index--)
            {
                if (!distance.IsBitSet(index)) filled = SelectFrom(index, target, chosen, filled, take, excluded);
            }
        }
        for (var index = home - 1; index >= 0 && filled < take; index--) filled = SelectFrom(index, target, chosen, filled, take, excluded);
        return filled;
    }

    /// <summary>
    /// Appends the closest entries of bucket <paramref name="index"/> (one distance range) to
    /// <paramref name="chosen"/>[<paramref name="filled"/>..], sorted, keeping at most <paramref name="take"/> in all;
    /// the entry at distance <paramref name="excluded"/> (the requester) is passed over.
    /// </summary>
    /// <remarks>
    /// Two passes: the distances first, then the selection over them. Each entry is an object of its own, and in a
    /// large simulation each is a cache miss; in the first pass no load waits on another, so the misses overlap, where
    /// the selection's compare-and-shift between two loads kept them nearly one after the other.
    /// </remarks>
    private int SelectFrom(int index, KadId target, (KadId Distance, KBucket.Entry Entry)[] chosen, int filled, int take, KadId? excluded)
    {
        if (_buckets[index] is not { } bucket) return filled;
        var entries = CollectionsMarshal.AsSpan(bucket.Entries);
        Span<KadId> distances = entries.Length <= MaxStackDistances ? stackalloc KadId[entries.Length] : new KadId[entries.Length];
        for (var i = 0; i < entries.Length; i++) distances[i] = entries[i].Id.DistanceTo(target);
        var start = filled;
        for (var i = 0; i < entries.Length; i++)
        {
            var distance = distances[i];
            // The group's slots are full and this one is no closer than the farthest kept: skip it.
            if (filled == take && distance.CompareTo(chosen[filled - 1].Distance) >= 0) continue;
            if (excluded is { } passedOver && distance == passedOver) continue;
            var position = filled == take ? filled - 1 : filled++;
            while (position > start && chosen[position - 1].Distance.CompareTo(distance) > 0)
            {
                chosen[position] = chosen[position - 1];
                position--;
            }
            chosen[position] = (distance, entries[i]);
        }
        return filled;
    }

    /// <summary>Buckets up to this size keep their distances on the stack (32 bytes each).</summary>
    private const int MaxStackDistances = 64;
}
