using System.Globalization;

namespace KontinuumP2P.Benchmarks;

/// <summary>js-libp2p connection setup time (TCP + Noise + Yamux + identify) on loopback, the peer figure for ours.</summary>
public sealed class JsConnectionSetupBench : IBench
{
    /// <inheritdoc />
    public string Name => "js-connection-setup";

    /// <inheritdoc />
    public string Description =>
        "js-libp2p↔js-libp2p, dial to identify done then hang up, median/p90 ms over 200 connections [--count N] [--ip6]";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var result = await JsBenchRunner.RunAsync("setup", args, TimeSpan.FromMinutes(5), cancellationToken);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"bench",-22} {"connections",11} {"median ms",10} {"p90 ms",8} {"min ms",8} {"max ms",8}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Name,-22} {result.GetProperty("connections").GetInt32(),11} {result.GetProperty("medianMs").GetDouble(),10:0.00} " +
            $"{result.GetProperty("p90Ms").GetDouble(),8:0.00} {result.GetProperty("minMs").GetDouble(),8:0.00} " +
            $"{result.GetProperty("maxMs").GetDouble(),8:0.00}"));
        Console.WriteLine(result.GetRawText());
        return 0;
    }
}
