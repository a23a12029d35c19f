using System.Globalization;

namespace KontinuumP2P.Benchmarks;

/// <summary>js-libp2p single-stream throughput over TCP loopback (Noise + Yamux), the peer figure for our stream bench.</summary>
public sealed class JsStreamThroughputBench : IBench
{
    /// <inheritdoc />
    public string Name => "js-stream-throughput";

    /// <inheritdoc />
    public string Description =>
        "js-libp2p↔js-libp2p, one stream, 1 GiB through /kontinuum/sink (or --protocol echo), MB/s [--bytes N] [--ip6]";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var result = await JsBenchRunner.RunAsync("throughput", args, TimeSpan.FromMinutes(5), cancellationToken);
        var mbPerSec = result.GetProperty("mbPerSec").GetDouble();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"bench",-22} {"protocol",-8} {"bytes",14} {"seconds",9} {"MB/s",9}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Name,-22} {result.GetProperty("protocol").GetString(),-8} {result.GetProperty("bytes").GetInt64(),14} " +
            $"{result.GetProperty("seconds").GetDouble(),9:0.000} {mbPerSec,9:0.0}"));
        Console.WriteLine(result.GetRawText());
        return 0;
    }
}
