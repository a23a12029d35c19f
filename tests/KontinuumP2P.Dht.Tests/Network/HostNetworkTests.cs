using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Network;

/// <summary>
/// DHT nodes on real libp2p hosts over the in-memory transport, in real time: Noise handshakes, Yamux streams and
/// identify all run for real. The 200-node case also runs over the in-process kad network in virtual time.
/// </summary>
public sealed class HostNetworkTests
{
    [Test, CancelAfter(600_000), Category("Slow")]
    public async Task Two_hundred_hosts_on_the_memory_transport_all_find_each_other(CancellationToken cancellationToken)
    {
        const int count = 200;
        await using var cluster = new HostCluster();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < count; i++) await cluster.AddAsync(HostCluster.Options(), cancellationToken);
        foreach (var node in cluster.Nodes) await node.RefreshAsync(cancellationToken);
        var joined = watch.Elapsed;

        // Every ordered pair, bounded: 200 × 199 lookups, each at most the query deadline. The first miss ends the run:
        // a broken build fails in one query deadline instead of spending the test's whole budget on doomed lookups.
        var missed = 0;
        var lookups = 0;
        string? firstMiss = null;
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var gate = new SemaphoreSlim(16);
        var tasks = cluster.Nodes.SelectMany(source => cluster.Nodes.Where(t => t != source).Select(async target =>
        {
            try
            {
                await gate.WaitAsync(failed.Token);
            }
            catch (OperationCanceledException) when (failed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return;
            }
            try
            {
                if (await source.FindPeerAsync(target.LocalPeer, failed.Token) is null)
                {
                    Interlocked.Increment(ref missed);
                    Interlocked.CompareExchange(ref firstMiss, $"{source.LocalPeer} did not find {target.LocalPeer}", null);
                    await failed.CancelAsync();
                }
                Interlocked.Increment(ref lookups);
            }
            catch (OperationCanceledException) when (failed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // Another lookup missed: this one is not needed any more.
            }
            finally
            {
                gate.Release();
            }
        })).ToList();
        await Task.WhenAll(tasks);
        Assert.That(firstMiss, Is.Null, "the first lookup that missed its target (the others were stopped there)");
        TestContext.Out.WriteLine($"{count} hosts joined in {joined.TotalSeconds:0.0} s; {lookups} lookups in " +
            $"{(watch.Elapsed - joined).TotalSeconds:0.0} s; missed {missed}; routing tables {cluster.Nodes.Min(n => n.RoutingTableSize)}" +
            $"..{cluster.Nodes.Max(n => n.RoutingTableSize)}");
        Assert.That(lookups, Is.EqualTo(count * (count - 1)));
        Assert.That(missed, Is.Zero);
    }

    [Test, CancelAfter(120_000)]
    public async Task Thirty_hosts_find_each_other_and_store_and_fetch_records(CancellationToken cancellationToken)
    {
        await using var cluster = new HostCluster();
        for (var i = 0; i < 30; i++) await cluster.AddAsync(HostCluster.Options(), cancellationToken);
        foreach (var node in cluster.Nodes) await node.RefreshAsync(cancellationToken);

        var missed = 0;
        foreach (var source in cluster.Nodes)
        {
            foreach (var target in cluster.Nodes)
            {
                if (source != target && await source.FindPeerAsync(target.LocalPeer, cancellationToken) is null) missed++;
            }
        }
        Assert.That(missed, Is.Zero);

        var key = "/seq/hosted"u8.ToArray();
        Assert.That(await cluster.Nodes[1].PutValueAsync(key, SequenceValidator.Value(7, "x"), cancellationToken), Is.GreaterThanOrEqualTo(15));
        DhtValue? last = null;
        await foreach (var value in cluster.Nodes[25].GetValueAsync(key, quorum: 3, cancellationToken)) last = value;
        Assert.That(SequenceValidator.SequenceOf(last!.Record.Value), Is.EqualTo(7u));

        var providerKey = new byte[] { 0x12, 0x20 }.Concat(new byte[32]).ToArray();
        Assert.That(await cluster.Nodes[2].ProvideAsync(providerKey, cancellationToken), Is.GreaterThan(0));
        var providers = new List<PeerId>();
        await foreach (var provider in cluster.Nodes[20].FindProvidersAsync(providerKey, 1, cancellationToken)) providers.Add(provider.PeerId);
        Assert.That(providers, Is.EqualTo(new[] { cluster.Nodes[2].LocalPeer }));
    }

    [Test, CancelAfter(120_000)]
    public async Task Mixed_kad_protocols_end_with_no_cross_protocol_entries(CancellationToken cancellationToken)
    {
        await using var cluster = new HostCluster();
        for (var i = 0; i < 20; i++)
        {
            await cluster.AddAsync(HostCluster.Options(i % 2 == 0 ? DhtOptions.KontinuumProtocolId : DhtOptions.IpfsProtocolId), cancellationToken);
        }
        foreach (var node in cluster.Nodes) await node.RefreshAsync(cancellationToken);
        var protocolOf = cluster.Nodes.ToDictionary(n => n.LocalPeer, n => n.Options.ProtocolId);
        var cross = cluster.Nodes.Sum(n => n.GetRoutingTable().Count(e => protocolOf[e.PeerId] != n.Options.ProtocolId));
        Assert.That(cross, Is.Zero);
        Assert.That(cluster.Nodes.Count(n => n.RoutingTableSize > 0), Is.GreaterThan(10));
    }

    [Test, CancelAfter(60_000)]
    public async Task An_invalid_put_resets_only_its_stream_and_stores_nothing(CancellationToken cancellationToken)
    {
        await using var cluster = new HostCluster();
        var server = await cluster.AddAsync(HostCluster.Options(), cancellationToken);
        var client = await cluster.AddAsync(HostCluster.Options() with { Mode = DhtMode.Client }, cancellationToken);
        var clientHost = cluster.HostOf(client);

        await using var stream = await clientHost.NewStreamAsync(server.LocalPeer, [DhtOptions.KontinuumProtocolId], cancellationToken);
        var key = "/pk/not-a-peer"u8.ToArray();
        var bad = new KadMessage(KadMessageType.PutValue, key, new DhtRecord(key, new byte[] { 1 }, null), [], []);
        await LengthPrefixed.WriteAsync(stream.Output, KadMessageCodec.Encode(bad), cancellationToken);
        Assert.ThrowsAsync(Is.InstanceOf<IOException>(), async () => await LengthPrefixed.ReadAsync(stream.Input, 1 << 22, cancellationToken));
        Assert.That(server.Store.Counts.Records, Is.Zero);

        // The connection survives: a valid request on a new stream is answered.
        await using var second = await clientHost.NewStreamAsync(server.LocalPeer, [DhtOptions.KontinuumProtocolId], cancellationToken);
        await LengthPrefixed.WriteAsync(second.Output, KadMessageCodec.Encode(KadMessage.Request(KadMessageType.FindNode, server.LocalPeer.ToByteArray())), cancellationToken);
        var answer = await LengthPrefixed.ReadAsync(second.Input, 1 << 22, cancellationToken);
        Assert.That(KadMessageCodec.Decode(answer!).Type, Is.EqualTo(KadMessageType.FindNode));

        // Several requests may share one inbound stream.
        await LengthPrefixed.WriteAsync(second.Output, KadMessageCodec.Encode(KadMessage.Request(KadMessageType.GetValue, "/pk/x"u8.ToArray())), cancellationToken);
        Assert.That(KadMessageCodec.Decode((await LengthPrefixed.ReadAsync(second.Input, 1 << 22, cancellationToken))!).Type, Is.EqualTo(KadMessageType.GetValue));
        Assert.That(clientHost.Protocols, Does.Not.Contain(DhtOptions.KontinuumProtocolId), "a client does not serve the protocol");
    }
}
