using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Dht.Routing;
/// <content>The closest-k selection: a walk over the buckets in distance order, no sort of the whole table.</content>
public sealed partial class RoutingTable
{
    /// <summary>The up to <paramref name="count"/> entries closest to <paramref name="target"/>, closest first.</summary>
    /// <remarks>
    /// No sort of the whole table: buckets are visited in distance order. With j the target's bucket index, every
    /// entry of bucket j is closer to the target than any other entry; the entries of all deeper buckets share the
    /// next distance range (their first differing bit from the target is bit j); then buckets j-1, j-2, … 0 follow,
    /// each farther than the one before. Each of these groups is reduced to the entries still needed by a bounded
    /// insertion selection, so a call costs O(entries visited × log count) and stops as soon as count are taken.
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
    private int SelectClosest(KadId target, (KadId Distance, KBucket.Entry Entry)[] chosen, int take, PeerId? exclude)
    {
        var filled = 0;
        var home = BucketIndex(target);
        filled = SelectFrom(home, home, target, chosen, filled, take, exclude);
        if (filled < take && home + 1 < _buckets.Length) filled = SelectFrom(home + 1, _buckets.Length - 1, target, chosen, filled, take, exclude);
        for (var index = home - 1; index >= 0 && filled < take; index--) filled = SelectFrom(index, index, target, chosen, filled, take, exclude);
        return filled;
    }

    /// <summary>
    /// Appends the closest entries of buckets <paramref name="first"/>..<paramref name="last"/> (one distance group) to
    /// <paramref name="chosen"/>[<paramref name="filled"/>..], sorted, keeping at most <paramref name="take"/> in all.
    /// </summary>
    private int SelectFrom(int first, int last, KadId target, (KadId Distance, KBucket.Entry Entry)[] chosen, int filled, int take, PeerId? exclude)
    {
        var start = filled;
        for (var index = first; index <= last; index++)
        {
            if (_buckets[index] is not { } bucket) continue;
            foreach (var entry in bucket.Entries)
            {
                var distance = entry.Id.DistanceTo(target);
                // The group's slots are full and this one is no closer than the farthest kept: skip it.
                if (filled == take && distance.CompareTo(chosen[filled - 1].Distance) >= 0) continue;
                // Only an entry that would be kept is compared with the requester (its peer id is another object to read).
                if (exclude is not null && entry.PeerId == exclude) continue;
                var position = filled == take ? filled - 1 : filled++;
                while (position > start && chosen[position - 1].Distance.CompareTo(distance) > 0)
                {
                    chosen[position] = chosen[position - 1];
                    position--;
                }
                chosen[position] = (distance, entry);
            }
        }
        return filled;
    }
}
