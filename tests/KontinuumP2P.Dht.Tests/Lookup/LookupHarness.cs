using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Lookup;

/// <summary>
/// Drives a sans-I/O lookup against a random overlay: each peer knows its nearest neighbours and a few random ones;
/// some peers never answer (they time out) and some fail at once. Answers come back in random order. Every rule the
/// lookup must keep is checked at every step.
/// </summary>
internal sealed class LookupHarness
{
    public const int MaxSteps = 200_000;

    private readonly Random _random;

    public LookupHarness(int seed, int peerCount, double deadShare, double failingShare, int neighbours = 8)
    {
        _random = new Random(seed);
        Peers = TestPeers.Create(peerCount, seed);
        var keyBytes = new byte[32];
        _random.NextBytes(keyBytes);
        Target = KadId.FromKey(keyBytes);
        foreach (var peer in Peers)
        {
            var id = KadId.FromPeer(peer);
            var nearest = Peers.Where(p => p != peer).OrderBy(p => KadId.FromPeer(p).DistanceTo(id)).Take(neighbours);
            var randoms = Enumerable.Range(0, 3).Select(_ => Peers[_random.Next(Peers.Count)]).Where(p => p != peer);
            Knows[peer] = [.. nearest.Concat(randoms).Distinct()];
            var roll = _random.NextDouble();
            if (roll < deadShare) Dead.Add(peer);
            else if (roll < deadShare + failingShare) Failing.Add(peer);
        }
    }

    public List<PeerId> Peers { get; }
    public KadId Target { get; }
    public Dictionary<PeerId, List<PeerId>> Knows { get; } = [];
    public HashSet<PeerId> Dead { get; } = [];
    public HashSet<PeerId> Failing { get; } = [];
    public HashSet<PeerId> Asked { get; } = [];

    /// <summary>Asked peers whose answer reached the lookup (a lookup may finish with requests still in flight).</summary>
    public HashSet<PeerId> Answered { get; } = [];
    public int MaxInFlightSeen { get; private set; }
    public int Steps { get; private set; }
    public DateTimeOffset Now { get; private set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public List<PeerId> RandomSeeds(int count) => [.. Peers.OrderBy(_ => _random.Next()).Take(count)];

    public List<PeerId> TrueClosest(IEnumerable<PeerId> among, int count) =>
        [.. among.OrderBy(p => KadId.FromPeer(p).DistanceTo(Target)).Take(count)];

    /// <summary>Runs to the end; returns a failure description, or null when every rule held.</summary>
    public string? Run(IPeerLookup lookup, int parallelism)
    {
        var pending = new List<PeerId>();
        for (Steps = 0; Steps < MaxSteps; Steps++)
        {
            var action = lookup.Poll(Now);
            if (action.Kind == LookupActionKind.Finished) return lookup.IsFinished ? null : "Finished but IsFinished is false";
            if (action.Kind == LookupActionKind.Request)
            {
                var peer = action.Peer!;
                if (!Asked.Add(peer)) return $"{peer} asked twice";
                pending.Add(peer);
                MaxInFlightSeen = Math.Max(MaxInFlightSeen, lookup.InFlight);
                if (lookup.InFlight > parallelism) return $"{lookup.InFlight} in flight with α = {parallelism}";
                continue;
            }
            var answerable = pending.Where(p => !Dead.Contains(p)).ToList();
            if (answerable.Count > 0)
            {
                var peer = answerable[_random.Next(answerable.Count)];
                pending.Remove(peer);
                Now += TimeSpan.FromMilliseconds(_random.Next(1, 200));
                if (Failing.Contains(peer)) lookup.OnFailure(peer, Now);
                else
                {
                    Answered.Add(peer);
                    lookup.OnSuccess(peer, Knows[peer], Now);
                }
                continue;
            }
            if (lookup.NextDeadline is not { } deadline) return "waiting with nothing answerable and no deadline";
            if (deadline <= Now) return "a deadline in the past was not expired by Poll";
            Now = deadline;
            pending.RemoveAll(Dead.Contains);
        }
        return $"no end after {MaxSteps} steps";
    }
}
