using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Routing;

namespace KontinuumP2P.Dht.Lookup;

/// <summary>
/// S/Kademlia disjoint-path lookup: d independent closest-peers walks seeded with disjoint slices of the seeds, where a
/// peer asked by one path is never asked by another, so one path of honest peers is enough to reach the target. The α
/// budget is split evenly between paths; the lookup ends when every path has ended.
/// </summary>
public sealed class DisjointPathsLookup : IPeerLookup
{
    private readonly ClosestPeersLookup[] _paths;
    private readonly Dictionary<PeerId, int> _owner;
    private readonly LookupOptions _options;
    private int _nextPath;

    /// <summary>Starts a lookup over <see cref="LookupOptions.DisjointPaths"/> paths.</summary>
    public DisjointPathsLookup(KadId target, IEnumerable<PeerId> seeds, LookupOptions options, DateTimeOffset now)
    {
        options.Validate();
        _options = options;
        var pathCount = options.DisjointPaths;
        var perPath = Math.Max(1, options.Parallelism / pathCount);
        var ordered = seeds.Distinct().OrderBy(p => KadId.FromPeer(p).DistanceTo(target)).ToList();
        // Sized for the seeds and the candidates a typical walk adds, so claiming rarely grows it mid-walk.
        _owner = new Dictionary<PeerId, int>(ordered.Count + 4 * options.ResultCount);
        _paths = new ClosestPeersLookup[pathCount];
        for (var i = 0; i < pathCount; i++)
        {
            var index = i;
            var slice = ordered.Where((_, n) => n % pathCount == index);
            _paths[i] = new ClosestPeersLookup(target, slice, options, now, perPath, peer => _owner.TryAdd(peer, index));
        }
    }

    /// <summary>The paths, for inspection.</summary>
    public IReadOnlyList<ClosestPeersLookup> Paths => _paths;

    /// <inheritdoc />
    public bool IsFinished
    {
        get
        {
            foreach (var path in _paths) if (!path.IsFinished) return false;
            return true;
        }
    }

    /// <inheritdoc />
    public int InFlight
    {
        get
        {
            var sum = 0;
            foreach (var path in _paths) sum += path.InFlight;
            return sum;
        }
    }

    /// <inheritdoc />
    public DateTimeOffset? NextDeadline
    {
        get
        {
            DateTimeOffset? next = null;
            foreach (var path in _paths)
            {
                if (path.NextDeadline is { } deadline && (next is null || deadline < next)) next = deadline;
            }
            return next;
        }
    }

    /// <inheritdoc />
    public LookupStatistics Statistics
    {
        get
        {
            var stats = _paths.Select(p => p.Statistics).ToList();
            var results = Results();
            var hops = 0;
            if (results.Count > 0)
            {
                var owner = _owner[results[0]];
                hops = _paths[owner].Statistics.Hops;
            }
            return new LookupStatistics(hops, stats.Sum(s => s.Requests), stats.Sum(s => s.Successes),
                stats.Sum(s => s.Failures), stats.Max(s => s.Duration));
        }
    }

    /// <inheritdoc />
    public LookupAction Poll(DateTimeOffset now)
    {
        // Rotate the starting path so no path starves the others.
        for (var i = 0; i < _paths.Length; i++)
        {
            var path = _paths[(_nextPath + i) % _paths.Length];
            var action = path.Poll(now);
            if (action.Kind == LookupActionKind.Request)
            {
                _nextPath = (_nextPath + i + 1) % _paths.Length;
                return action;
            }
        }
        return IsFinished ? LookupAction.Finished : LookupAction.Wait;
    }

    /// <inheritdoc />
    public void OnResponseReceived(PeerId peer, DateTimeOffset now)
    {
        if (_owner.TryGetValue(peer, out var path)) _paths[path].OnResponseReceived(peer, now);
    }

    /// <inheritdoc />
    public void OnSuccess(PeerId peer, IEnumerable<PeerId> closerPeers, DateTimeOffset now)
    {
        if (_owner.TryGetValue(peer, out var path)) _paths[path].OnSuccess(peer, closerPeers, now);
    }

    /// <inheritdoc />
    public void OnFailure(PeerId peer, DateTimeOffset now)
    {
        if (_owner.TryGetValue(peer, out var path)) _paths[path].OnFailure(peer, now);
    }

    /// <inheritdoc />
    public void Finish(DateTimeOffset now)
    {
        foreach (var path in _paths) path.Finish(now);
    }

    /// <inheritdoc />
    public IReadOnlyList<PeerId> Results() =>
        [.. _paths.SelectMany(p => p.Results().Select(peer => (peer, distance: p.DistanceOf(peer))))
            .OrderBy(x => x.distance).Select(x => x.peer).Distinct().Take(_options.ResultCount)];

    /// <summary>Creates a plain or a disjoint lookup as <paramref name="options"/> asks.</summary>
    public static IPeerLookup Create(KadId target, IEnumerable<PeerId> seeds, LookupOptions options, DateTimeOffset now) =>
        options.DisjointPaths > 1
            ? new DisjointPathsLookup(target, seeds, options, now)
            : new ClosestPeersLookup(target, seeds, options, now);
}
