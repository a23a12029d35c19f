using System.Diagnostics;
using System.Text.Json;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Lookup;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// Lookup quality in an N-node DHT over the in-process kad network: hops, requests and success of random
/// find-peer lookups, and managed memory per DHT node (target: median ≤ 3 hops, ≥ 99.9 % success at 1,000 nodes).
/// </summary>
public sealed class DhtLookupBench : IBench
{
    /// <inheritdoc />
    public string Name => "dht-lookup";

    /// <inheritdoc />
    public string Description => "find-peer hops/requests/success in an N-node DHT (in-process network); args: [--nodes N] [--lookups L] [--alpha A]";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var nodes = IntArg(args, "--nodes", 1000);
        var lookups = IntArg(args, "--lookups", 2000);
        var alpha = IntArg(args, "--alpha", 10);
        var random = new Random(1);
        var swarm = new DhtBenchSwarm(TimeProvider.System);
        var options = new DhtOptions { Lookup = new LookupOptions { Parallelism = alpha } };
        var dhts = new List<DhtNode>(nodes);
        var identities = new List<PeerId>(nodes);
        for (var i = 0; i < nodes; i++)
        {
            var key = new byte[32];
            random.NextBytes(key);
            identities.Add(PeerId.FromEncodedPublicKey(PublicKeyEncoding.Encode(KeyType.Ed25519, key)));
        }
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var join = Stopwatch.StartNew();
        try
        {
            foreach (var peer in identities)
            {
                var bootstrap = dhts.Count == 0 ? [] : new[] { dhts[random.Next(dhts.Count)] }
                    .Select(n => swarm.Endpoint(n.LocalPeer).LocalAddresses[0].WithPeerId(n.LocalPeer)).ToList();
                var node = new DhtNode(swarm.Join(peer, options.ProtocolId), options with { BootstrapPeers = bootstrap });
                await node.StartAsync(cancellationToken).ConfigureAwait(false);
                dhts.Add(node);
            }
            join.Stop();
            var heapPerNode = (GC.GetTotalMemory(forceFullCollection: true) - heapBefore) / nodes;

            var hops = new List<int>(lookups);
            var requests = new List<int>(lookups);
            var failures = 0;
            var run = Stopwatch.StartNew();
            for (var i = 0; i < lookups; i++)
            {
                var source = dhts[random.Next(nodes)];
                var target = dhts[random.Next(nodes)];
                if (source == target) continue;
                var found = await source.FindPeerAsync(target.LocalPeer, cancellationToken).ConfigureAwait(false);
                if (found is null) failures++;
                else
                {
                    hops.Add(found.Statistics.Hops);
                    requests.Add(found.Statistics.Requests);
                }
            }
            run.Stop();
            hops.Sort();
            requests.Sort();
            var done = hops.Count + failures;
            var result = new
            {
                bench = Name, nodes, lookups = done, alpha,
                successPercent = Math.Round(100.0 * hops.Count / done, 3),
                medianHops = hops[hops.Count / 2], p95Hops = hops[hops.Count * 95 / 100], maxHops = hops[^1],
                medianRequests = requests[requests.Count / 2],
                joinSeconds = Math.Round(join.Elapsed.TotalSeconds, 1),
                lookupsPerSecond = Math.Round(done / run.Elapsed.TotalSeconds),
                heapKiBPerNode = heapPerNode / 1024,
                tableMin = dhts.Min(d => d.RoutingTableSize), tableMax = dhts.Max(d => d.RoutingTableSize),
            };
            Console.WriteLine($"{nodes} nodes, α={alpha}: {result.successPercent}% of {done} lookups found the peer; hops median {result.medianHops}, " +
                $"p95 {result.p95Hops}, max {result.maxHops}; median {result.medianRequests} requests; join {result.joinSeconds} s; " +
                $"{result.lookupsPerSecond} lookups/s; {result.heapKiBPerNode} KiB managed heap per DHT node (no host)");
            Console.WriteLine(JsonSerializer.Serialize(result));
            return 0;
        }
        finally
        {
            foreach (var node in dhts) await node.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], out var value) && value > 0 ? value : fallback;
    }
}
