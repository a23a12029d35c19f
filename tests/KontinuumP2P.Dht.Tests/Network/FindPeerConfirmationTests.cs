namespace KontinuumP2P.Dht.Tests.Network;

/// <summary>
/// FIND_PEER with confirmation (#16): a peer that left is still named by others' tables, so a plain lookup "finds"
/// it; with confirmation the dial fails and the result says so. Real hosts on the memory transport.
/// </summary>
public sealed class FindPeerConfirmationTests
{
    [Test, CancelAfter(120_000)]
    public async Task A_departed_peer_is_named_but_not_confirmed_and_a_present_one_is_confirmed(CancellationToken cancellationToken)
    {
        await using var cluster = new HostCluster();
        for (var i = 0; i < 10; i++) await cluster.AddAsync(HostCluster.Options(), cancellationToken);
        foreach (var node in cluster.Nodes) await node.RefreshAsync(cancellationToken);
        var origin = cluster.Nodes[0];
        var present = cluster.Nodes[5];
        var departed = cluster.Nodes[9];

        var confirmed = await origin.FindPeerAsync(present.LocalPeer, confirmReachable: true, cancellationToken);
        Assert.That(confirmed, Is.Not.Null);
        Assert.That(confirmed!.Reachable, Is.True);
        var unconfirmed = await origin.FindPeerAsync(present.LocalPeer, cancellationToken);
        Assert.That(unconfirmed!.Reachable, Is.Null, "no confirmation asked, none reported");

        // The peer leaves: its listener and connections are gone, but the other tables still hold it.
        var departedId = departed.LocalPeer;
        await departed.DisposeAsync();
        await cluster.HostOf(departed).DisposeAsync();
        Assert.That(cluster.Nodes.Take(9).Count(n => n.GetRoutingTable().Any(e => e.PeerId == departedId)), Is.GreaterThan(0),
            "someone still names the departed peer");

        var named = await origin.FindPeerAsync(departedId, cancellationToken);
        Assert.That(named, Is.Not.Null, "without confirmation the departed peer counts as found");
        var dialled = await origin.FindPeerAsync(departedId, confirmReachable: true, cancellationToken);
        Assert.That(dialled, Is.Not.Null);
        Assert.That(dialled!.Reachable, Is.False, "the dial did not reach it");
    }
}
