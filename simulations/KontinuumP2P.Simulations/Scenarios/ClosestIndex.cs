using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Routing;

namespace KontinuumP2P.Simulations.Scenarios;

/// <summary>
/// The true k closest peers of any node, for the routing-health sample. Sorting every peer by distance for every
/// node made one sample O(n² log n) (most of the first minutes of a 10,000-node run); here the ids are sorted once,
/// and a node's closest are found next to its own position: ids sharing a longer prefix with it are closer than any
/// other, and in sorted order they form a run around it.
/// </summary>
internal sealed class ClosestIndex
{
    private readonly (KadId Id, PeerId Peer)[] _sorted;
    private readonly List<(KadId Distance, PeerId Peer)> _window = [];

    /// <summary>Indexes <paramref name="peers"/> (distinct ids).</summary>
    public ClosestIndex(IEnumerable<(PeerId Peer, KadId Id)> peers)
    {
        _sorted = [.. peers.Select(p => (p.Id, p.Peer))];
        Array.Sort(_sorted, static (a, b) => a.Id.CompareTo(b.Id));
    }

    /// <summary>
    /// Writes the up to <paramref name="count"/> indexed peers closest to <paramref name="self"/>, other than
    /// <paramref name="exclude"/>, into <paramref name="into"/> (cleared first), closest first.
    /// </summary>
    public void Closest(KadId self, PeerId exclude, int count, List<PeerId> into)
    {
        into.Clear();
        _window.Clear();
        var hi = LowerBound(self);
        var lo = hi - 1;
        // Greedy by common prefix length: moving away from self in sorted order, the prefix shared with it never grows.
        var lastPrefix = KadId.Bits;
        while (lo >= 0 || hi < _sorted.Length)
        {
            var left = lo >= 0 ? _sorted[lo].Id.CommonPrefixLength(self) : -1;
            var right = hi < _sorted.Length ? _sorted[hi].Id.CommonPrefixLength(self) : -1;
            var prefix = Math.Max(left, right);
            // Once count are taken, only ties with the last prefix can still be among the closest.
            if (_window.Count >= count && prefix < lastPrefix) break;
            var (id, peer) = left >= right ? _sorted[lo--] : _sorted[hi++];
            lastPrefix = prefix;
            if (peer != exclude) _window.Add((id.DistanceTo(self), peer));
        }
        _window.Sort(static (a, b) => a.Distance.CompareTo(b.Distance));
        for (var i = 0; i < _window.Count && i < count; i++) into.Add(_window[i].Peer);
    }

    private int LowerBound(KadId id)
    {
        int lo = 0, hi = _sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_sorted[mid].Id.CompareTo(id) < 0) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
