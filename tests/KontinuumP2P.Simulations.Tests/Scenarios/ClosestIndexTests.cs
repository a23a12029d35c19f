using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Simulations.Scenarios;

namespace KontinuumP2P.Simulations.Tests.Scenarios;

/// <summary>The routing-health sample's k closest (an index instead of a sort per node) equal a brute-force sort.</summary>
public sealed class ClosestIndexTests
{
    [TestCase(0, 20, 1)]
    [TestCase(1, 20, 2)]
    [TestCase(15, 20, 3)]
    [TestCase(21, 20, 4)]
    [TestCase(700, 20, 5)]
    [TestCase(3000, 20, 6)]
    [TestCase(500, 1, 7)]
    public void Every_nodes_closest_equal_a_sort_of_all_peers_by_distance(int peers, int k, int seed)
    {
        var random = new Random(seed);
        var all = Enumerable.Range(0, peers).Select(_ => Peer(random)).Select(p => (Peer: p, Id: KadId.FromPeer(p))).ToList();
        var index = new ClosestIndex(all);
        var found = new List<PeerId>();
        // Indexed nodes (excluded from their own answer) and strangers.
        var origins = all.Take(200).Select(p => p.Peer).Concat(Enumerable.Range(0, 50).Select(_ => Peer(random)));
        foreach (var origin in origins)
        {
            var self = KadId.FromPeer(origin);
            index.Closest(self, origin, k, found);
            var expected = all.Where(p => p.Peer != origin).OrderBy(p => p.Id.DistanceTo(self)).Take(k).Select(p => p.Peer);
            Assert.That(found, Is.EqualTo(expected));
        }
    }

    private static PeerId Peer(Random random)
    {
        var key = new byte[32];
        random.NextBytes(key);
        return PeerId.FromEncodedPublicKey(PublicKeyEncoding.Encode(KeyType.Ed25519, key));
    }
}
