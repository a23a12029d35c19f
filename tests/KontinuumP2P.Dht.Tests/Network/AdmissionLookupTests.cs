using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Network;

/// <summary>Answers from peers that admission refuses never steer a lookup nor appear in its result.</summary>
public sealed class AdmissionLookupTests
{
    [Test, CancelAfter(60_000)]
    public async Task Refused_responders_are_ignored_even_when_honest_peers_name_them(CancellationToken cancellationToken)
    {
        await using var dht = new SimulatedDht(seed: 9);
        await dht.AddNodesAsync(40);
        // The other nodes admit everyone, so their answers keep naming the peers our observer refuses.
        var refused = dht.Nodes.Take(20).Select(n => n.LocalPeer).ToHashSet();
        var honest = dht.Nodes.Skip(20).ToList();
        var endpoint = dht.Swarm.Join(TestPeers.Create(new Random(99)), DhtOptions.KontinuumProtocolId);
        // The observer starts knowing every honest server, so "all 20 answered" does not depend on which answers named
        // the last of them before the lookup ended (with two bootstrap peers it sometimes ended with 19: ~1 run in 30).
        var bootstrap = honest.Select(n => dht.Swarm.Endpoint(n.LocalPeer).LocalAddresses[0].WithPeerId(n.LocalPeer)).ToList();
        var observer = new DhtNode(endpoint, SimulatedDht.DefaultOptions() with { Admission = new RefuseSome(refused), BootstrapPeers = bootstrap });
        await observer.StartAsync(cancellationToken);
        dht.Nodes.Add(observer);

        var closest = await observer.GetClosestPeersAsync(refused.First().ToByteArray(), cancellationToken);
        var found = await observer.FindPeerAsync(honest[^1].LocalPeer, cancellationToken);

        Assert.Multiple(() =>
        {
            Assert.That(closest.Peers.Select(p => p.PeerId), Is.EquivalentTo(honest.Select(n => n.LocalPeer)),
                "the k = 20 closest that answered are exactly the 20 admitted servers");
            Assert.That(closest.Statistics.Failures, Is.GreaterThan(0), "refused peers were asked (honest peers named them) and their answers dropped");
            Assert.That(observer.GetRoutingTable().Select(e => e.PeerId), Has.None.Matches<PeerId>(refused.Contains));
            Assert.That(found, Is.Not.Null);
        });
    }

    private sealed class RefuseSome(HashSet<PeerId> refused) : IPeerAdmission
    {
        public PeerAdmissionState GetState(PeerId peer) => refused.Contains(peer) ? PeerAdmissionState.Refused : PeerAdmissionState.Admitted;

        public ValueTask<PeerAdmissionState> WaitForDecisionAsync(PeerId peer, CancellationToken cancellationToken) => ValueTask.FromResult(GetState(peer));
    }
}
