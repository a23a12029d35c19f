using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Configuration;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Hq.Tests.Service;

/// <summary>
/// HQ and fleet health inside the one composition (<see cref="KontinuumNodeBuilder"/>): mailbox nodes serve the health
/// protocol and validate <c>/slot/</c> records, HQ's node publishes slot records that other nodes resolve, and the
/// configuration that drives both (<c>[health]</c> in node.toml, <c>[fleet]</c> in hq.toml).
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class HqNodeCompositionTests
{
    [Test]
    public async Task A_mailbox_node_serves_health_and_resolves_the_slot_records_HQs_node_publishes(CancellationToken ct)
    {
        using var fixture = new HqFixture();
        using var mailboxKey = Ed25519Identity.Generate();
        using var hq = new HqService(fixture.DataDir(), fixture.Key, fixture.Certificate, new EscalationOptions(), TimeProvider.System);
        await using var hqNodeHolder = new AsyncHolder();
        hq.RegisterSlot("test", "mbx-x", mailboxKey.PeerId, "p0", "eu", MailboxRole.Ephemeral, 10);
        var published = new TaskCompletionSource<HqNodeEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        var network = fixture.Authority.Network;

        var hqNode = await new KontinuumNodeBuilder(new KontinuumNodeOptions
        {
            Identity = fixture.Key,
            Network = network,
            Certificate = fixture.Certificate,
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            CrlRefreshInterval = TimeSpan.Zero,
        }).AddService(node =>
        {
            var service = new HqNodeService(node, hq, provisioner: null, new HqNodeOptions(TimeSpan.FromMilliseconds(200), TimeSpan.FromMinutes(10)));
            service.Changed += e =>
            {
                if (e.Kind == "published" && e.Slot == "mbx-x") published.TrySetResult(e);
            };
            return service;
        }).StartAsync(ct);
        hqNodeHolder.Add(hqNode);
        var hqAddress = hqNode.ListenAddresses[0].WithPeerId(hqNode.PeerId);

        var dir = Path.Combine(fixture.Directory, "mailbox");
        Directory.CreateDirectory(dir);
        await using var mailboxNode = await KontinuumNode.StartAsync(new KontinuumNodeOptions
        {
            Identity = mailboxKey,
            Network = network,
            Certificate = fixture.Authority.IssueCertificate(mailboxKey, TimeSpan.FromDays(1), ["dht", "mailbox"], "p0"),
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            ExtraBootstrapPeers = [hqAddress],
            CrlRefreshInterval = TimeSpan.Zero,
            Mailbox = new MailboxServerOptions { Store = new MailboxStoreOptions { DatabasePath = Path.Combine(dir, "mailbox.db") } },
            Health = new NodeHealthOptions { Hq = hqAddress },
        }, ct);

        // The composition added the health service beside the mailbox server, and the slot validator to the DHT.
        Assert.That(mailboxNode.HealthService, Is.Not.Null);
        Assert.That(mailboxNode.Host!.Protocols, Does.Contain(HealthService.ProtocolId));
        Assert.That(mailboxNode.Dht.Options.Validators.Namespaces, Does.Contain(SlotRecord.Namespace));
        Assert.That(hqNode.Host!.Protocols, Does.Contain(HealthService.ProtocolId), "HQ takes alerts over the health protocol");

        // HQ republishes on its first tick once the mailbox node is its peer; the mailbox node then resolves the slot.
        var record = await WaitForSlotAsync(mailboxNode, "mbx-x", published, ct);
        Assert.That(record.NodeId, Is.EqualTo(mailboxKey.PeerId));
        Assert.That(record.HqCertificate.Body.PeerId, Is.EqualTo(hq.PeerId));

        // A slot record signed by a node without the hq capability is refused by the node's validator set.
        using var rogue = Ed25519Identity.Generate();
        var rogueCert = fixture.Authority.IssueCertificate(rogue, TimeSpan.FromDays(1), ["dht"]);
        var forged = SlotRecord.Create("mbx-x", rogue.PeerId, 99, DateTimeOffset.UtcNow, rogueCert, rogue);
        Assert.That(mailboxNode.Dht.Options.Validators.Validate(SlotRecord.KeyFor("mbx-x"), forged.Encode()).IsValid, Is.False);
    }

    [Test]
    public void Health_settings_in_node_toml_resolve_for_mailbox_nodes_and_a_bad_hq_address_names_the_key()
    {
        using var fixture = new HqFixture();
        var keyFile = Path.Combine(fixture.Directory, "node.key");
        KontinuumP2P.Certs.Secrets.KeyFile.WriteSecret(keyFile, KontinuumP2P.Certs.Secrets.KeyFile.EncodePlain(fixture.Key, KontinuumP2P.Certs.Secrets.KeyFileKind.Node));
        var certFile = Path.Combine(fixture.Directory, "node.cert");
        File.WriteAllBytes(certFile, fixture.Authority.IssueCertificate(fixture.Key, TimeSpan.FromDays(1), ["dht", "mailbox"]).Encode());
        var genesis = Path.Combine(fixture.Directory, "genesis.json");
        File.WriteAllText(genesis, KontinuumP2P.Node.Networks.GenesisFile.Write(fixture.Authority.Network));
        string Toml(string health) => $"[identity]\nkey_file = \"{keyFile}\"\ncert_file = \"{certFile}\"\n[node]\ndata_dir = \"{fixture.Directory}/data\"\n" +
                                      $"[network]\nnetwork = \"{genesis}\"\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\nmdns = false\n[metrics]\nenabled = false\n" +
                                      $"[mailbox]\nenabled = true\n[health]\n{health}";
        var path = Path.Combine(fixture.Directory, "node.toml");
        var hq = $"/ip4/127.0.0.1/tcp/4001/p2p/{Ed25519Identity.Generate().PeerId}";

        File.WriteAllText(path, Toml($"hq = \"{hq}\"\nyellow_report_threshold = 2\ncheck_interval = \"500ms\"\nred_after = \"10s\"\n"));
        using (var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path), path))
        {
            var health = resolved.Options.Health!;
            Assert.That(health.Hq!.ToString(), Is.EqualTo(hq));
            Assert.That(health.Service.Monitor.YellowReportThreshold, Is.EqualTo(2));
            Assert.That(health.Service.Monitor.CheckInterval, Is.EqualTo(TimeSpan.FromMilliseconds(500)));
            Assert.That(health.Service.Tick, Is.EqualTo(TimeSpan.FromMilliseconds(500)), "the loop ticks at least as often as checks are due");
            Assert.That(health.Service.Monitor.RedAfter, Is.EqualTo(TimeSpan.FromSeconds(10)));
        }

        File.WriteAllText(path, Toml("hq = \"/ip4/127.0.0.1/tcp/4001\"\n"));
        Assert.That(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path), path),
            Throws.InstanceOf<NodeConfigException>().With.Message.Contains("health.hq").And.Message.Contains("/p2p/"));
        File.WriteAllText(path, Toml("yellow_report_threshold = 0\n"));
        Assert.That(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path), path),
            Throws.InstanceOf<NodeConfigException>().With.Message.Contains("health.yellow_report_threshold"));
    }

    [Test]
    public void Fleet_in_hq_toml_seeds_the_registry_once_and_never_reverts_a_replacement()
    {
        using var fixture = new HqFixture();
        var a = Ed25519Identity.Generate().PeerId;
        var spare = Ed25519Identity.Generate().PeerId;
        var text = $"[hq]\nnode_config = \"hq-node.toml\"\ntick_seconds = 0.5\n" +
                   $"[[fleet.slots]]\nname = \"mbx-a\"\nnode_id = \"{a}\"\nprovider = \"p0\"\nrole = \"replica\"\n" +
                   $"[[fleet.spares]]\nid = \"{spare}\"\nprovider = \"p1\"\ndirectory = \"spares/one\"\n";
        var options = HqConfigLoader.Parse(text, "hq.toml");
        Assert.That(options.TickSeconds, Is.EqualTo(0.5));
        Assert.That(options.Fleet.Slots.Single().Role, Is.EqualTo("replica"));

        using var hq = fixture.Open();
        Assert.That(HqFleetSeed.Apply(hq, options.Fleet), Is.EqualTo((1, 1)));
        Assert.That(HqFleetSeed.Apply(hq, options.Fleet), Is.EqualTo((0, 0)), "a second start adds nothing");
        Assert.That(hq.Registry.GetSlot("mbx-a")!.Role, Is.EqualTo(MailboxRole.Replica));
        hq.Registry.UseSpare("test", spare.ToString(), "mbx-a");
        HqFleetSeed.Apply(hq, options.Fleet);
        Assert.That(hq.Registry.GetSlot("mbx-a")!.NodeId, Is.EqualTo(spare.ToString()), "the registry, not the file, knows who holds a slot");

        Assert.That(() => HqConfigLoader.Parse("[[fleet.slots]]\nname = \"Bad Name\"\nnode_id = \"x\"\nprovider = \"p\"\n", "hq.toml"),
            Throws.ArgumentException.With.Message.Contains("fleet.slots"));
        Assert.That(() => HqConfigLoader.Parse("[[fleet.spares]]\nid = \"nope\"\nprovider = \"p\"\ndirectory = \"d\"\n", "hq.toml"),
            Throws.ArgumentException.With.Message.Contains("fleet.spares"));
    }

    [Test]
    public void A_down_slot_without_a_spare_is_audited_once_however_often_HQ_ticks()
    {
        using var fixture = new HqFixture();
        using var hq = fixture.Open();
        var fleet = HqFixture.AddFleet(hq, providers: 3, perProvider: 1);
        var victim = fleet[0];
        hq.OnAlert(fleet[1].Node, new HealthTarget(victim.Slot, victim.Node), HealthLevel.Red);
        hq.OnAlert(fleet[2].Node, new HealthTarget(victim.Slot, victim.Node), HealthLevel.Red);
        for (var tick = 0; tick < 5; tick++) Assert.That(hq.ReplaceDownSlots("hq"), Is.Empty, "no spare in the pool");
        Assert.That(hq.Audit.Tail(100).Count(e => e.Action == "slot.unplaced"), Is.EqualTo(1));
    }

    private static async Task<SlotRecord> WaitForSlotAsync(KontinuumNode node, string slot, TaskCompletionSource<HqNodeEvent> published, CancellationToken ct)
    {
        await published.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        return await node.ResolveSlotAsync(slot, ct) ?? throw new AssertionException($"no /slot/{slot} record after HQ published it");
    }

    private sealed class AsyncHolder : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> _items = [];

        public void Add(IAsyncDisposable item) => _items.Add(item);

        public async ValueTask DisposeAsync()
        {
            foreach (var item in _items) await item.DisposeAsync();
        }
    }
}
