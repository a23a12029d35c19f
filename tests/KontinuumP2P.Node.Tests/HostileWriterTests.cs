using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Node.Admission;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Records;

namespace KontinuumP2P.Node.Tests;

/// <summary>
/// Writes by those entitled on a Kontinuum network: a client without a certificate cannot fill <c>/pk/</c> nor
/// announce providers; it can still publish a signed CRL; a PUT that was not stored is reported as not stored.
/// </summary>
[TestFixture]
[CancelAfter(120_000)]
public class HostileWriterTests
{
    [Test]
    public async Task An_uncertified_client_stores_nothing_but_a_signed_crl(CancellationToken cancellationToken)
    {
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 4 }, cancellationToken);
        var bootstrap = devnet.Nodes[0].ListenAddresses[0].WithPeerId(devnet.Nodes[0].PeerId);
        using var clientKey = Ed25519Identity.Generate();
        await using var client = await KontinuumNode.StartAsync(new KontinuumNodeOptions
        {
            Identity = clientKey,
            Network = devnet.Nodes[0].Network,
            ExtraBootstrapPeers = [bootstrap],
            // The attacker's own node would happily send /pk/ records: give it the validator servers no longer have.
            ConfigureDht = o =>
            {
                o.Validators.Add(PublicKeyValidator.Namespace, new PublicKeyValidator());
                return o;
            },
        }, cancellationToken);
        await client.Dht.RefreshAsync(cancellationToken);

        using var junkKey = Ed25519Identity.Generate();
        var pkKey = "/pk/"u8.ToArray().Concat(junkKey.PeerId.ToByteArray()).ToArray();
        var junkStored = await client.Dht.PutValueAsync(pkKey, junkKey.EncodedPublicKey, cancellationToken);

        var oldCrl = devnet.Nodes[0].CurrentCrl!;
        var newCrl = devnet.Authority.IssueCrl([], TimeSpan.FromDays(2));
        var (acceptance, crlStored) = await client.PublishCrlAsync(newCrl, cancellationToken);
        var rollback = await client.Dht.PutValueAsync(RecordKeys.ForCrl(devnet.Authority.Network.Anchors!.Anchors[0].PublicKey.Span),
            oldCrl.Encode(), cancellationToken);

        var member = devnet.Nodes[1];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(junkStored, Is.Zero, "no server keeps /pk/ on a Kontinuum network, and none claims to");
            foreach (var node in devnet.Nodes)
                Assert.That(await node.Dht.Store.GetRecordAsync(pkKey, DateTimeOffset.UtcNow, cancellationToken), Is.Null);
            Assert.That(acceptance.IsCurrent, Is.True, acceptance.Detail);
            Assert.That(crlStored, Is.GreaterThan(0), "a client publishing a CRL signed by Tier 0 still works");
            Assert.That(rollback, Is.Zero, "servers holding a newer CRL refuse the older one and say so");
            Assert.That(ProviderEntitlement.MayProvide(member.Admission!, client.PeerId, new byte[34]), Is.False, "a client provides nothing");
            Assert.That(ProviderEntitlement.MayProvide(member.Admission!, devnet.Nodes[2].PeerId, new byte[34]), Is.True, "a dht-capable server may");
            // Devnet node 0 pushes archives but holds none (no `archive` capability); the others are archive holders.
            Assert.That(ProviderEntitlement.MayProvide(member.Admission!, devnet.Nodes[0].PeerId, "/archive/pack-1"u8.ToArray()), Is.False,
                "a key naming a capability needs it");
            Assert.That(ProviderEntitlement.MayProvide(member.Admission!, devnet.Nodes[2].PeerId, "/archive/pack-1"u8.ToArray()), Is.True,
                "an archive holder may announce it");
        }
    }

    [Test]
    public async Task A_clients_provider_announcement_is_dropped_a_servers_is_kept(CancellationToken cancellationToken)
    {
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 4 }, cancellationToken);
        var bootstrap = devnet.Nodes[0].ListenAddresses[0].WithPeerId(devnet.Nodes[0].PeerId);
        using var clientKey = Ed25519Identity.Generate();
        await using var client = await KontinuumNode.StartAsync(new KontinuumNodeOptions
        {
            Identity = clientKey,
            Network = devnet.Nodes[0].Network,
            ExtraBootstrapPeers = [bootstrap],
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            DhtMode = DhtMode.Server,
        }, cancellationToken);
        await client.Dht.RefreshAsync(cancellationToken);

        var clientKeyId = new byte[] { 0x12, 0x20 }.Concat(Enumerable.Repeat((byte)7, 32)).ToArray();
        var serverKeyId = new byte[] { 0x12, 0x20 }.Concat(Enumerable.Repeat((byte)8, 32)).ToArray();
        await client.Dht.ProvideAsync(clientKeyId, cancellationToken);
        await devnet.Nodes[3].Dht.ProvideAsync(serverKeyId, cancellationToken);
        // Announcements have no answer: wait for the server's to land everywhere; the client's went out first.
        var holders = devnet.Nodes.Take(3).ToList();
        while (true)
        {
            var held = 0;
            foreach (var node in holders)
                held += (await node.Dht.Store.GetProvidersAsync(serverKeyId, DateTimeOffset.UtcNow, 5, cancellationToken)).Count;
            if (held == holders.Count) break;
            await Task.Delay(10, cancellationToken);
        }
        foreach (var node in devnet.Nodes)
            Assert.That(await node.Dht.Store.GetProvidersAsync(clientKeyId, DateTimeOffset.UtcNow, 5, cancellationToken), Is.Empty);
    }
}
