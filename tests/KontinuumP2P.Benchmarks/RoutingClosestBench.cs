using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Routing;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// <see cref="RoutingTable.Closest"/> (bucket walk from the target's prefix with bounded selection) against the former
/// algorithm kept here as the baseline (distance of every entry, full sort, take k), on the same table and targets in
/// the same run, interleaved by round. Every answer is checked against the baseline's.
/// Usage: <c>routing-closest [--entries 5000] [--count 20] [--queries 20000] [--rounds 5]</c>.
/// </summary>
public sealed class RoutingClosestBench : IBench
{
    /// <inheritdoc />
    public string Name => "routing-closest";

    /// <inheritdoc />
    public string Description => "RoutingTable.Closest at 5,000 entries: bucket walk vs the former full sort (baseline, same run)";

    /// <inheritdoc />
    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        int entries = 5000, count = 20, queries = 20_000, rounds = 5;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--entries": entries = value; break;
                case "--count": count = value; break;
                case "--queries": queries = value; break;
                case "--rounds": rounds = value; break;
                default:
                    Console.Error.WriteLine($"unknown argument '{args[i]}'");
                    return Task.FromResult(2);
            }
        }
        var random = new Random(1);
        // Buckets large enough to hold every entry: bucket i then holds about half of what bucket i-1 holds.
        var table = new RoutingTable(RandomPeer(random), new RoutingTableOptions { BucketSize = entries });
        var now = DateTimeOffset.UnixEpoch;
        while (table.Count < entries) table.TryAdd(RandomPeer(random), [], now);
        var baseline = new Baseline(table);
        var targets = new KadId[1024];
        for (var i = 0; i < targets.Length; i++)
        {
            var key = new byte[32];
            random.NextBytes(key);
            targets[i] = KadId.FromKey(key);
        }
        // The target of an inbound FIND_NODE is often near us too: include our own id's neighbourhood.
        targets[0] = table.LocalId;
        foreach (var target in targets)
        {
            var ours = table.Closest(target, count).Select(e => e.PeerId);
            if (!ours.SequenceEqual(baseline.Closest(target, count).Select(e => e.PeerId)))
                throw new InvalidOperationException("Closest disagrees with the baseline");
        }
        var walk = new List<(double Ns, double Bytes)>();
        var sort = new List<(double Ns, double Bytes)>();
        for (var r = 0; r < rounds + 1; r++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var a = Measure(queries, i => table.Closest(targets[i & 1023], count).Count);
            var b = Measure(queries, i => baseline.Closest(targets[i & 1023], count).Count);
            if (r == 0) continue; // warm-up round
            walk.Add(a);
            sort.Add(b);
        }
        var walkNs = walk.Min(x => x.Ns);
        var sortNs = sort.Min(x => x.Ns);
        Console.WriteLine($"table: {table.Count} entries in {table.NonEmptyBuckets().Count} buckets; k = {count}; {queries} queries x {rounds} rounds (best round)");
        Console.WriteLine($"{"algorithm",-28} {"ns/query",10} {"bytes/query",12}");
        Console.WriteLine($"{"bucket walk (Closest)",-28} {walkNs,10:F0} {walk[0].Bytes,12:F0}");
        Console.WriteLine($"{"full sort (former, baseline)",-28} {sortNs,10:F0} {sort[0].Bytes,12:F0}");
        Console.WriteLine($"speed-up: {sortNs / walkNs:F1}x");
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "routing-closest",
            entries = table.Count,
            k = count,
            queries,
            rounds,
            walkNsPerQuery = Math.Round(walkNs),
            sortNsPerQuery = Math.Round(sortNs),
            walkBytesPerQuery = Math.Round(walk[0].Bytes),
            sortBytesPerQuery = Math.Round(sort[0].Bytes),
            speedup = Math.Round(sortNs / walkNs, 1),
        }));
        return Task.FromResult(0);
    }

    private static (double Ns, double Bytes) Measure(int queries, Func<int, int> query)
    {
        var sink = 0;
        var bytes = GC.GetAllocatedBytesForCurrentThread();
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < queries; i++) sink += query(i);
        var elapsed = Stopwatch.GetElapsedTime(start);
        bytes = GC.GetAllocatedBytesForCurrentThread() - bytes;
        GC.KeepAlive(sink);
        return (elapsed.TotalNanoseconds / queries, (double)bytes / queries);
    }

    private static PeerId RandomPeer(Random random)
    {
        var key = new byte[32];
        random.NextBytes(key);
        return PeerId.FromEncodedPublicKey(PublicKeyEncoding.Encode(KeyType.Ed25519, key));
    }

    /// <summary>The former <see cref="RoutingTable.Closest"/>: every entry's distance, a full sort, the first k.</summary>
    private sealed class Baseline(RoutingTable table)
    {
        private readonly (KadId Id, RoutingTableEntry Entry)[] _entries =
            [.. table.Snapshot().Select(e => (KadId.FromPeer(e.PeerId), e))];

        public IReadOnlyList<RoutingTableEntry> Closest(KadId target, int count)
        {
            var all = new List<(KadId Distance, RoutingTableEntry Entry)>(_entries.Length);
            foreach (var (id, entry) in _entries) all.Add((id.DistanceTo(target), entry));
            all.Sort((a, b) => a.Distance.CompareTo(b.Distance));
            var result = new RoutingTableEntry[Math.Min(count, all.Count)];
            for (var i = 0; i < result.Length; i++) result[i] = all[i].Entry with { };
            return result;
        }
    }
}
