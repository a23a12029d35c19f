using System.Diagnostics;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Storage;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Network;

/// <summary>Many DHT nodes over the in-process kad network (real codec, real handlers) in virtual time.</summary>
public sealed class MultiNodeTests
{
    [Test, CancelAfter(240_000)]
    public async Task In_200_nodes_every_node_finds_every_other(CancellationToken cancellationToken)
    {
        await using var dht = new SimulatedDht(seed: 200);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        // α = 3 (the original Kademlia value) keeps the 39,800 lookups of this test cheap: with the default 10, most
        // requests of a lookup in so small a network are sent before the first answer already names the target.
        await dht.AddNodesAsync(200, SimulatedDht.DefaultOptions() with { Lookup = new LookupOptions { Parallelism = 3 } });
        foreach (var node in dht.Nodes) await node.RefreshAsync(cancellationToken);
        var perNode = (GC.GetTotalMemory(forceFullCollection: true) - before) / dht.Nodes.Count;

        var clock = Stopwatch.StartNew();
        var requestsBefore = dht.Swarm.Requests;
        var failures = new List<string>();
        var hops = new List<int>();
        await Parallel.ForEachAsync(dht.Nodes, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (source, ct) =>
        {
            foreach (var target in dht.Nodes)
            {
                if (target == source) continue;
                var found = await source.FindPeerAsync(target.LocalPeer, ct);
                lock (failures)
                {
                    if (found is null || found.Addresses.Count == 0) failures.Add($"{source.LocalPeer} did not find {target.LocalPeer}");
                    else hops.Add(found.Statistics.Hops);
                }
            }
        });
        var lookups = 200 * 199;
        TestContext.Out.WriteLine($"200 nodes: {lookups} find-peer lookups in {clock.Elapsed.TotalSeconds:F1} s, " +
            $"{(dht.Swarm.Requests - requestsBefore) / (double)lookups:F2} requests per lookup, median hops {hops.Order().ElementAt(hops.Count / 2)}, " +
            $"max hops {hops.Max()}, table sizes {dht.Nodes.Min(n => n.RoutingTableSize)}..{dht.Nodes.Max(n => n.RoutingTableSize)}, " +
            $"~{perNode / 1024} KiB managed heap per node");
        var missing = failures.Select(f => f.Split(' ')[^1]).Distinct().ToList();
        foreach (var m in missing)
        {
            var inTables = dht.Nodes.Count(n => n.GetRoutingTable().Any(e => e.PeerId.ToString() == m));
            var node = dht.Nodes.First(n => n.LocalPeer.ToString() == m);
            TestContext.Out.WriteLine($"{m}: in {inTables} tables, own table {node.RoutingTableSize}, failures {failures.Count(f => f.EndsWith(m))}");
        }
        Assert.That(failures, Is.Empty);
    }

    [Test, CancelAfter(60_000)]
    public async Task Put_then_get_reaches_the_quorum_and_streams_the_best_value(CancellationToken cancellationToken)
    {
        await using var dht = new SimulatedDht(seed: 1);
        await dht.AddNodesAsync(60);
        var key = "/seq/greeting"u8.ToArray();
        var stored = await dht.Nodes[3].PutValueAsync(key, SequenceValidator.Value(1, "hello"), cancellationToken);
        Assert.That(stored, Is.EqualTo(20), "the k closest servers acknowledge");

        var updates = new List<DhtValue>();
        var reader = dht.Nodes[40];
        await foreach (var value in reader.GetValueAsync(key, quorum: 5, cancellationToken)) updates.Add(value);
        Assert.That(updates, Is.Not.Empty);
        var last = updates[^1];
        Assert.That(SequenceValidator.SequenceOf(last.Record.Value), Is.EqualTo(1u));
        Assert.That(last.Holders.Count(h => h != reader.LocalPeer), Is.GreaterThanOrEqualTo(5), "the local copy does not count for the quorum");
        Assert.That(updates.Select(u => u.Holders.Count), Is.Ordered, "each update adds holders of the best value");
    }

    [Test, CancelAfter(60_000)]
    public async Task A_get_over_disjoint_paths_finds_the_value_and_a_bad_path_count_is_refused(CancellationToken cancellationToken)
    {
        await using var dht = new SimulatedDht(seed: 3);
        await dht.AddNodesAsync(60);
        var key = "/seq/crl-like"u8.ToArray();
        await dht.Nodes[5].PutValueAsync(key, SequenceValidator.Value(7, "x"), cancellationToken);

        DhtValue? last = null;
        var requestsBefore = dht.Swarm.Requests;
        await foreach (var value in dht.Nodes[50].GetValueAsync(key, quorum: 5, disjointPaths: 3, cancellationToken)) last = value;
        Assert.That(last, Is.Not.Null);
        Assert.That(SequenceValidator.SequenceOf(last!.Record.Value), Is.EqualTo(7u));
        Assert.That(dht.Swarm.Requests - requestsBefore, Is.GreaterThanOrEqualTo(5));

        Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
        {
            await foreach (var _ in dht.Nodes[50].GetValueAsync(key, quorum: 5, disjointPaths: 0, cancellationToken)) { }
        });
    }

    [Test, CancelAfter(60_000)]
    public async Task A_get_always_asks_the_network_and_corrects_stale_holders(CancellationToken cancellationToken)
    {
        await using var dht = new SimulatedDht(seed: 2);
        await dht.AddNodesAsync(50);
        var key = "/seq/config"u8.ToArray();
        var writer = dht.Nodes[0];
        Assert.That(await writer.PutValueAsync(key, SequenceValidator.Value(2, "new"), cancellationToken), Is.GreaterThan(0));
        var now = dht.Time.GetUtcNow();
        var holders = new List<DhtNode>();
        foreach (var node in dht.Nodes.Skip(1))
        {
            if (await node.Store.GetRecordAsync(key, now, cancellationToken) is not null) holders.Add(node);
        }
        // The three holders closest to the key (which any GET asks) missed the update: they still hold sequence 1.
        var keyId = KontinuumP2P.Dht.Routing.KadId.FromKey(key);
        var stale = holders.OrderBy(n => KontinuumP2P.Dht.Routing.KadId.FromPeer(n.LocalPeer).DistanceTo(keyId)).Take(3).ToList();
        var old = new StoredRecord(new KontinuumP2P.Dht.Records.DhtRecord(key, SequenceValidator.Value(1, "old"), now), now.AddHours(48), false);
        foreach (var node in stale) await node.Store.PutRecordAsync(old, cancellationToken);
        // The reader holds the stale copy too: it must still ask the network and end with the newer value.
        var reader = dht.Nodes.First(n => n != writer && !holders.Contains(n));
        await reader.Store.PutRecordAsync(old, cancellationToken);

        DhtValue? final = null;
        await foreach (var value in reader.GetValueAsync(key, quorum: 50, cancellationToken)) final = value;
        Assert.That(final, Is.Not.Null);
        Assert.That(final!.Holders.Where(h => h != reader.LocalPeer), Is.Not.Empty, "the local copy did not short-circuit the GET");
        Assert.That(SequenceValidator.SequenceOf(final!.Record.Value), Is.EqualTo(2u));
        foreach (var node in stale)
        {
            var record = await node.Store.GetRecordAsync(key, dht.Time.GetUtcNow(), cancellationToken);
            Assert.That(SequenceValidator.SequenceOf(record!.Record.Value), Is.EqualTo(2u), "stale holder corrected");
        }
        var local = await reader.Store.GetRecordAsync(key, dht.Time.GetUtcNow(), cancellationToken);
        Assert.That(SequenceValidator.SequenceOf(local!.Record.Value), Is.EqualTo(2u), "the reader's own stale copy is corrected too");
    }

    [Test, CancelAfter(60_000)]
    public async Task A_pk_record_is_answered_from_the_peer_id_itself(CancellationToken cancellationToken)
    {
        await using var dht = new SimulatedDht(seed: 7);
        await dht.AddNodesAsync(20);
        var subject = dht.Nodes[4].LocalPeer;
        DhtValue? final = null;
        await foreach (var value in dht.Nodes[15].GetValueAsync(KontinuumP2P.Dht.Records.PublicKeyValidator.KeyFor(subject), quorum: 3, cancellationToken)) final = value;
        Assert.That(final, Is.Not.Null);
        Assert.That(subject.Matches(final!.Record.Value.Span), Is.True);
        Assert.That(final.Holders, Has.Count.GreaterThanOrEqualTo(3));
    }

    [Test, CancelAfter(60_000)]
    public async Task Provider_records_are_found_by_other_nodes(CancellationToken cancellationToken)
    {
        await using var dht = new SimulatedDht(seed: 3);
        await dht.AddNodesAsync(60);
        var key = System.Security.Cryptography.SHA256.HashData("content"u8).Prepend((byte)0x20).Prepend((byte)0x12).ToArray();
        Assert.That(await dht.Nodes[5].ProvideAsync(key, cancellationToken), Is.EqualTo(20));
        Assert.That(await dht.Nodes[9].ProvideAsync(key, cancellationToken), Is.EqualTo(20));

        var found = new List<PeerId>();
        await foreach (var provider in dht.Nodes[50].FindProvidersAsync(key, 2, cancellationToken))
        {
            found.Add(provider.PeerId);
            Assert.That(provider.Addresses, Is.Not.Empty);
        }
        Assert.That(found, Is.EquivalentTo(new[] { dht.Nodes[5].LocalPeer, dht.Nodes[9].LocalPeer }));
    }

    [Test, CancelAfter(60_000)]
    public async Task A_node_restarted_from_its_snapshot_finds_peers_without_a_bootstrap_address(CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("kp-dht-restart-");
        var dht = new SimulatedDht(seed: 4);
        SqliteDhtStore? reopened = null;
        try
        {
            await dht.AddNodesAsync(40);
            var store = await SqliteDhtStore.OpenAsync(Path.Combine(directory.FullName, "dht.db"), cancellationToken: cancellationToken);
            var restarting = await dht.AddNodeAsync(store: store);
            var peer = restarting.LocalPeer;
            Assert.That(restarting.RoutingTableSize, Is.GreaterThan(10));
            await restarting.DisposeAsync();
            dht.Nodes.Remove(restarting);
            await store.DisposeAsync();

            reopened = await SqliteDhtStore.OpenAsync(Path.Combine(directory.FullName, "dht.db"), cancellationToken: cancellationToken);
            Assert.That((await reopened.LoadRoutingSnapshotAsync(cancellationToken)).Count, Is.GreaterThan(10));
            var restarted = await dht.AddNodeAsync(store: reopened, peer: peer, bootstrap: false);
            Assert.That(restarted.Options.BootstrapPeers, Is.Empty);
            Assert.That(restarted.RoutingTableSize, Is.GreaterThan(10));
            var target = dht.Nodes[17].LocalPeer;
            Assert.That(await restarted.FindPeerAsync(target, cancellationToken), Is.Not.Null);
        }
        finally
        {
            await dht.DisposeAsync();
            if (reopened is not null) await reopened.DisposeAsync();
            directory.Delete(recursive: true);
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Kontinuum_and_ipfs_kad_nodes_in_one_network_never_enter_each_others_tables(CancellationToken cancellationToken)
    {
        await using var dht = new SimulatedDht(seed: 5);
        var kontinuum = SimulatedDht.DefaultOptions(DhtOptions.KontinuumProtocolId);
        var ipfs = SimulatedDht.DefaultOptions(DhtOptions.IpfsProtocolId);
        var random = new Random(5);
        // Interleaved joins: each node bootstraps from random earlier nodes of either protocol.
        for (var i = 0; i < 60; i++) await dht.AddNodeAsync(random.Next(2) == 0 ? kontinuum : ipfs);
        foreach (var node in dht.Nodes) await node.RefreshAsync(cancellationToken);
        var protocolOf = dht.Nodes.ToDictionary(n => n.LocalPeer, n => n.Options.ProtocolId);

        var cross = dht.Nodes.Sum(n => n.GetRoutingTable().Count(e => protocolOf[e.PeerId] != n.Options.ProtocolId));
        var same = dht.Nodes.Sum(n => n.RoutingTableSize);
        Assert.That(cross, Is.Zero);
        Assert.That(same, Is.GreaterThan(60 * 5), "each side still builds its own tables");
    }

    [Test, CancelAfter(60_000)]
    public async Task A_client_queries_but_enters_no_routing_table(CancellationToken cancellationToken)
    {
        await using var dht = new SimulatedDht(seed: 6);
        await dht.AddNodesAsync(30);
        var client = await dht.AddNodeAsync(SimulatedDht.DefaultOptions() with { Mode = DhtMode.Client });
        Assert.That(client.RoutingTableSize, Is.GreaterThan(0), "a client still routes its own queries");
        Assert.That(await client.FindPeerAsync(dht.Nodes[7].LocalPeer, cancellationToken), Is.Not.Null);
        foreach (var node in dht.Nodes.Take(30)) await node.RefreshAsync(cancellationToken);
        Assert.That(dht.Nodes.Count(n => n.GetRoutingTable().Any(e => e.PeerId == client.LocalPeer)), Is.Zero);
    }
}
