using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Node.Tests;

/// <summary>The README's embedding quickstart, step by step, against a running devnet.</summary>
[CancelAfter(120_000)]
public class ReadmeQuickstartTests
{
    [Test]
    public async Task AClientResolvesAndVerifiesANodeRecordFromTheDevnetGenesis(CancellationToken cancellationToken)
    {
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 3 }, cancellationToken);
        var target = devnet.Nodes[2];

        using var identity = Ed25519Identity.Generate();
        await using var node = await KontinuumNode.StartAsync(new KontinuumNodeOptions
        {
            Identity = identity,
            Network = NetworkDefinition.Resolve(Path.Combine(devnet.Directory, "genesis.json")),
            ExtraBootstrapPeers = [devnet.Nodes[0].ListenAddresses[0].WithPeerId(devnet.Nodes[0].PeerId)],
        }, cancellationToken);

        var record = await node.ResolveNodeAsync(PeerId.Parse(target.PeerId.ToString()), cancellationToken);
        Assert.That(record, Is.Not.Null);
        var verdict = node.Anchors!.VerifyCertificate(record!.Certificate);
        Assert.Multiple(() =>
        {
            Assert.That(node.Dht.Options.Mode, Is.EqualTo(DhtMode.Client), "no certificate and no listen address: a client");
            Assert.That(verdict.IsValid, Is.True);
            Assert.That(record.PeerId, Is.EqualTo(target.PeerId));
            Assert.That(record.Addresses, Is.EqualTo(target.ListenAddresses));
            Assert.That(devnet.Nodes.All(n => n.Dht.GetRoutingTable().All(e => e.PeerId != identity.PeerId)), Is.True,
                "a client never enters a routing table");
        });
    }
}
