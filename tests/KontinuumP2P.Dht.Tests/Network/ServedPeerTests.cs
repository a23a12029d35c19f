using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Network;

/// <summary>
/// The server's answer keeps the peer object a routing entry was last served as while the address book gives the same
/// list (an allocation saved per handed-out peer, which the swarm's codec hides from the client: the simulator's
/// collector counts show it). What a client can see, and this test checks, is that a changed list is served at once
/// and the others stay as they were.
/// </summary>
public sealed class ServedPeerTests
{
    [Test, CancelAfter(60_000)]
    public async Task An_answer_serves_a_peers_new_addresses_at_once_and_the_others_unchanged(CancellationToken cancellationToken)
    {
        await using var dht = new SimulatedDht(seed: 31);
        await dht.AddNodesAsync(30);
        var server = await dht.AddNodeAsync();
        await server.RefreshAsync(cancellationToken);
        var client = dht.Swarm.Join(TestPeers.Create(new Random(91)), DhtOptions.KontinuumProtocolId);
        var request = KadMessage.Request(KadMessageType.FindNode, TestPeers.Create(new Random(92)).ToByteArray());

        async Task<IReadOnlyList<KadPeer>> AskAsync() => (await client.SendAsync(server.LocalPeer, request, cancellationToken))!.CloserPeers;

        var first = await AskAsync();
        var second = await AskAsync();
        var moved = first[0].PeerId;
        IReadOnlyList<Multiaddr> elsewhere = [Multiaddr.Parse("/ip4/192.0.2.7/tcp/4001")];
        dht.Swarm.Endpoint(server.LocalPeer).AddAddresses(moved, elsewhere);
        var third = await AskAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first, Has.Count.EqualTo(20));
            Assert.That(second.Select(p => p.PeerId), Is.EqualTo(first.Select(p => p.PeerId)));
            Assert.That(second.Select(p => p.Addresses), Is.EqualTo(first.Select(p => p.Addresses)));
            Assert.That(third.Select(p => p.PeerId), Is.EqualTo(first.Select(p => p.PeerId)));
            Assert.That(third[0].Addresses, Is.EqualTo(elsewhere), "the address book's new list is served at once");
            Assert.That(first[0].Addresses, Is.Not.EqualTo(elsewhere));
            Assert.That(third.Skip(1).Select(p => p.Addresses), Is.EqualTo(first.Skip(1).Select(p => p.Addresses)), "the others unchanged");
        }
    }
}
