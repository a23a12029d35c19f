using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Routing;

namespace KontinuumP2P.Dht.Lookup;

/// <summary>
/// The iterative closest-peers walk of Kademlia as a sans-I/O state machine. Candidates are ordered by XOR distance to
/// the target; only the k closest live candidates are ever asked; at most α requests are in flight; a request
/// unanswered for the request timeout fails (an answer awaiting its verdict no longer times out); the walk ends by the termination rule, by exhaustion, at the query
/// deadline, or when the caller finishes it.
/// </summary>
public sealed class ClosestPeersLookup : IPeerLookup
{
    private readonly List<Candidate> _sorted = [];
    private readonly Dictionary<PeerId, Candidate> _byPeer = [];
    private readonly KadId _target;
    private readonly LookupOptions _options;
    private readonly int _parallelism;
    private readonly Func<PeerId, bool>? _tryClaim;
    private readonly DateTimeOffset _started;
    private readonly DateTimeOffset _deadline;
    private DateTimeOffset _lastNow;
    private DateTimeOffset? _finishedAt;
    private int _inFlight, _awaitingVerdict, _requests, _successes, _failures;

    /// <summary>Starts a lookup of <paramref name="target"/> from <paramref name="seeds"/>.</summary>
    /// <param name="target">The kad id looked up.</param>
    /// <param name="seeds">Initial candidates (usually the k closest of the routing table).</param>
    /// <param name="options">Parameters.</param>
    /// <param name="now">The current time.</param>
    public ClosestPeersLookup(KadId target, IEnumerable<PeerId> seeds, LookupOptions options, DateTimeOffset now)
        : this(target, seeds, options, now, options.Parallelism, null)
    {
    }

    /// <summary>A path of a disjoint lookup: its own parallelism share, and a claim that keeps paths apart.</summary>
    internal ClosestPeersLookup(KadId target, IEnumerable<PeerId> seeds, LookupOptions options, DateTimeOffset now,
        int parallelism, Func<PeerId, bool>? tryClaim)
    {
        options.Validate();
        _target = target;
        _options = options;
        _parallelism = parallelism;
        _tryClaim = tryClaim;
        _started = _lastNow = now;
        _deadline = now + options.QueryTimeout;
        foreach (var seed in seeds) AddCandidate(seed, depth: 1);
    }

    /// <inheritdoc />
    public bool IsFinished => _finishedAt is not null;

    /// <inheritdoc />
    public int InFlight => _inFlight;

    /// <summary>The kad id looked up.</summary>
    public KadId Target => _target;

    /// <inheritdoc />
    public DateTimeOffset? NextDeadline
    {
        get
        {
            if (IsFinished) return null;
            DateTimeOffset? next = _deadline;
            foreach (var candidate in _sorted)
            {
                if (candidate.State == CandidateState.Waiting && candidate.Deadline < next) next = candidate.Deadline;
            }
            return next;
        }
    }

    /// <inheritdoc />
    public LookupStatistics Statistics => new(Hops(), _requests, _successes, _failures, (_finishedAt ?? _lastNow) - _started);

    /// <inheritdoc />
    public LookupAction Poll(DateTimeOffset now)
    {
        if (IsFinished) return LookupAction.Finished;
        Observe(now);
        if (now >= _deadline)
        {
            Finish(now);
            return LookupAction.Finished;
        }
        foreach (var candidate in _sorted)
        {
            if (candidate.State == CandidateState.Waiting && candidate.Deadline <= now) Fail(candidate);
        }
        if (TerminationReached())
        {
            Finish(now);
            return LookupAction.Finished;
        }
        if (_inFlight >= _parallelism) return LookupAction.Wait;
        var live = 0;
        foreach (var candidate in _sorted)
        {
            if (candidate.State is CandidateState.Failed or CandidateState.Skipped) continue;
            if (live++ >= _options.ResultCount) break;
            if (candidate.State != CandidateState.NotContacted) continue;
            if (_tryClaim is not null && !_tryClaim(candidate.Peer))
            {
                candidate.State = CandidateState.Skipped;
                live--;
                continue;
            }
            candidate.State = CandidateState.Waiting;
            candidate.Deadline = now + _options.RequestTimeout;
            _inFlight++;
            _requests++;
            return new LookupAction(LookupActionKind.Request, candidate.Peer);
        }
        if (_inFlight > 0 || _awaitingVerdict > 0) return LookupAction.Wait;
        Finish(now);
        return LookupAction.Finished;
    }

    /// <inheritdoc />
    public void OnResponseReceived(PeerId peer, DateTimeOffset now)
    {
        Observe(now);
        if (IsFinished || !_byPeer.TryGetValue(peer, out var candidate) || candidate.State != CandidateState.Waiting) return;
        candidate.State = CandidateState.AwaitingVerdict;
        _inFlight--;
        _awaitingVerdict++;
    }

    /// <inheritdoc />
    public void OnSuccess(PeerId peer, IEnumerable<PeerId> closerPeers, DateTimeOffset now)
    {
        Observe(now);
        if (IsFinished || !_byPeer.TryGetValue(peer, out var candidate) || !Release(candidate)) return;
        candidate.State = CandidateState.Succeeded;
        _successes++;
        if (closerPeers is IReadOnlyList<PeerId> list)
        {
            for (var i = 0; i < list.Count; i++) AddCandidate(list[i], candidate.Depth + 1);
        }
        else
        {
            foreach (var closer in closerPeers) AddCandidate(closer, candidate.Depth + 1);
        }
    }

    /// <inheritdoc />
    public void OnFailure(PeerId peer, DateTimeOffset now)
    {
        Observe(now);
        if (IsFinished || !_byPeer.TryGetValue(peer, out var candidate) || !Release(candidate)) return;
        candidate.State = CandidateState.Failed;
        _failures++;
    }

    /// <inheritdoc />
    public void Finish(DateTimeOffset now)
    {
        Observe(now);
        _finishedAt ??= _lastNow;
    }

    /// <inheritdoc />
    public IReadOnlyList<PeerId> Results()
    {
        var results = new List<PeerId>(_options.ResultCount);
        foreach (var candidate in _sorted)
        {
            if (candidate.State != CandidateState.Succeeded) continue;
            results.Add(candidate.Peer);
            if (results.Count == _options.ResultCount) break;
        }
        return results;
    }

    /// <summary>Whether <paramref name="peer"/> was asked by this lookup.</summary>
    public bool WasQueried(PeerId peer) =>
        _byPeer.TryGetValue(peer, out var c) && c.State is not (CandidateState.NotContacted or CandidateState.Skipped);

    /// <summary>Every peer this lookup asked, in distance order.</summary>
    public IReadOnlyList<PeerId> QueriedPeers() =>
        [.. _sorted.Where(c => c.State is not (CandidateState.NotContacted or CandidateState.Skipped)).Select(c => c.Peer)];

    internal KadId DistanceOf(PeerId peer) => _byPeer.TryGetValue(peer, out var c) ? c.Distance : KadId.FromPeer(peer).DistanceTo(_target);

    private bool TerminationReached()
    {
        var needed = _options.Termination == LookupTermination.Beta
            ? Math.Min(_options.Beta, _options.ResultCount)
            : _options.ResultCount;
        var answered = 0;
        foreach (var candidate in _sorted)
        {
            if (candidate.State is CandidateState.Failed or CandidateState.Skipped) continue;
            if (candidate.State != CandidateState.Succeeded) return false;
            if (++answered == needed) return true;
        }
        return false; // fewer live candidates than needed: exhaustion decides
    }

    private void AddCandidate(PeerId peer, int depth)
    {
        if (_byPeer.ContainsKey(peer)) return;
        var candidate = new Candidate(peer, KadId.FromPeer(peer).DistanceTo(_target), depth);
        _byPeer.Add(peer, candidate);
        var index = _sorted.BinarySearch(candidate, CandidateByDistance.Instance);
        _sorted.Insert(index < 0 ? ~index : index, candidate);
    }

    private void Fail(Candidate candidate)
    {
        candidate.State = CandidateState.Failed;
        _inFlight--;
        _failures++;
    }

    /// <summary>Frees the slot of a request that is in flight or awaiting its verdict; false for any other state.</summary>
    private bool Release(Candidate candidate)
    {
        switch (candidate.State)
        {
            case CandidateState.Waiting:
                _inFlight--;
                return true;
            case CandidateState.AwaitingVerdict:
                _awaitingVerdict--;
                return true;
            default:
                return false;
        }
    }

    private void Observe(DateTimeOffset now)
    {
        if (now > _lastNow) _lastNow = now;
    }

    private int Hops()
    {
        foreach (var candidate in _sorted) if (candidate.State == CandidateState.Succeeded) return candidate.Depth;
        return 0;
    }

    private enum CandidateState : byte { NotContacted, Waiting, AwaitingVerdict, Succeeded, Failed, Skipped }

    private sealed class Candidate(PeerId peer, KadId distance, int depth)
    {
        public PeerId Peer { get; } = peer;
        public KadId Distance { get; } = distance;
        public int Depth { get; } = depth;
        public CandidateState State { get; set; }
        public DateTimeOffset Deadline { get; set; }
    }

    private sealed class CandidateByDistance : IComparer<Candidate>
    {
        public static readonly CandidateByDistance Instance = new();

        public int Compare(Candidate? x, Candidate? y) => x!.Distance.CompareTo(y!.Distance);
    }
}
