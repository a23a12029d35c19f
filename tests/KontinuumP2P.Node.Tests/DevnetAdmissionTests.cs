using System.Diagnostics;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Node.Admission;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Node.Tests;

[TestFixture]
[CancelAfter(120_000)]
public class DevnetAdmissionTests
{
    [Test]
    public async Task EveryNodeResolvesEveryOtherNodesRecord(CancellationToken cancellationToken)
    {
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 5 }, cancellationToken);
        var status = await devnet.RunLookupRoundAsync(cancellationToken);
        Assert.Multiple(() =>
        {
            Assert.That(status.Lookups, Is.EqualTo(20));
            Assert.That(status.LookupFailures, Is.Zero);
            Assert.That(status.Nodes.Select(n => n.CrlNumber), Is.All.EqualTo(1UL));
            Assert.That(status.Nodes.Select(n => n.RoutingTable), Is.All.EqualTo(4));
        });
    }

    [Test]
    public async Task A_four_node_devnet_keeps_its_demo_devices_off_the_mailbox_nodes(CancellationToken cancellationToken)
    {
        // With 4 nodes and 3 mailbox nodes, device b used to run on mailbox node 2 and fail dialling itself.
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 4 }, cancellationToken);
        var status = await devnet.RunLookupRoundAsync(cancellationToken);
        Assert.That(status.Mailboxes.Select(m => m.Index), Is.EqualTo(new[] { 0, 1 }), "two mailbox nodes, the last two nodes left for devices");
        Assert.That(status.Group!.Pushed, Is.EqualTo(2), "both devices pushed");
        Assert.That(status.LookupFailures, Is.Zero);
    }

    [Test]
    public async Task UncertifiedAndForeignCertifiedNodesNeverEnterRoutingTables(CancellationToken cancellationToken)
    {
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 4 }, cancellationToken);
        var bootstrap = devnet.Nodes[0].ListenAddresses[0].WithPeerId(devnet.Nodes[0].PeerId);
        using var foreignAuthority = new DevnetAuthority("foreign", 1, 1, TimeProvider.System);
        using var uncertifiedKey = Ed25519Identity.Generate();
        using var foreignKey = Ed25519Identity.Generate();
        await using var uncertified = await StartOutsiderAsync(devnet, uncertifiedKey, null, bootstrap, cancellationToken);
        await using var foreign = await StartOutsiderAsync(devnet, foreignKey,
            foreignAuthority.IssueCertificate(foreignKey, TimeSpan.FromDays(1)), bootstrap, cancellationToken);

        // Both outsiders actively query the network, which is what would get an honest server admitted.
        foreach (var member in devnet.Nodes)
        {
            await uncertified.Dht.FindPeerAsync(member.PeerId, cancellationToken);
            await foreign.Dht.FindPeerAsync(member.PeerId, cancellationToken);
        }
        foreach (var member in devnet.Nodes) await member.Dht.RefreshAsync(cancellationToken);

        var outsiders = new[] { uncertified.PeerId, foreign.PeerId };
        Assert.Multiple(() =>
        {
            foreach (var member in devnet.Nodes)
            {
                var table = member.Dht.GetRoutingTable().Select(e => e.PeerId).ToList();
                Assert.That(table, Has.None.AnyOf(outsiders), $"routing table of {member.PeerId}");
                Assert.That(member.Admission!.GetVerdict(foreign.PeerId).Status, Is.Not.EqualTo(AdmissionStatus.Admitted));
            }
            Assert.That(devnet.Nodes[0].Admission!.GetVerdict(foreign.PeerId).Status, Is.EqualTo(AdmissionStatus.Refused));
            Assert.That(devnet.Nodes[0].Admission!.GetVerdict(uncertified.PeerId).Status, Is.EqualTo(AdmissionStatus.ClientOnly));
        });
    }

    [Test]
    public async Task ARevokedNodeLeavesEveryRoutingTable(CancellationToken cancellationToken)
    {
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 5 }, cancellationToken);
        var victim = devnet.Nodes[4];
        var others = devnet.Nodes.Take(4).ToList();
        Assert.That(others.All(n => n.Dht.GetRoutingTable().Any(e => e.PeerId == victim.PeerId)), Is.True,
            "precondition: every node knows the victim");

        var watch = Stopwatch.StartNew();
        var crl = devnet.Authority.IssueCrl([victim.PeerId], TimeSpan.FromDays(1));
        var (acceptance, stored) = await others[0].PublishCrlAsync(crl, cancellationToken);
        Assert.That(acceptance.IsCurrent, Is.True, acceptance.Detail);
        Assert.That(stored, Is.GreaterThan(0));
        foreach (var node in others.Skip(1)) await node.RefreshCrlAsync(cancellationToken);
        while (others.Any(n => n.Dht.GetRoutingTable().Any(e => e.PeerId == victim.PeerId)))
            await Task.Delay(20, cancellationToken);
        TestContext.Out.WriteLine($"revocation propagated to {others.Count} nodes in {watch.Elapsed.TotalMilliseconds:0} ms");

        Assert.Multiple(() =>
        {
            foreach (var node in others)
            {
                Assert.That(node.CurrentCrl?.Body.CrlNumber, Is.EqualTo(2UL));
                Assert.That(node.Admission!.GetVerdict(victim.PeerId).Status, Is.EqualTo(AdmissionStatus.Refused));
            }
        });
        // The victim's record no longer validates anywhere it is looked up.
        Assert.That(await others[1].ResolveNodeAsync(victim.PeerId, cancellationToken), Is.Null);
    }

    private static Task<KontinuumNode> StartOutsiderAsync(DevnetRunner devnet, Ed25519Identity identity,
        KontinuumP2P.Certs.Certificates.Certificate? certificate, Multiaddr bootstrap, CancellationToken cancellationToken) =>
        KontinuumNode.StartAsync(new KontinuumNodeOptions
        {
            Identity = identity,
            Network = devnet.Nodes[0].Network,
            Certificate = certificate,
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            ExtraBootstrapPeers = [bootstrap],
            // Force server mode: an outsider that claims to be a DHT server is exactly what admission must stop.
            DhtMode = DhtMode.Server,
        }, cancellationToken);
}
