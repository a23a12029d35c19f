using System.Diagnostics;
using System.Text.Json;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Benchmarks;

/// <summary>Time from dial to identify done: TCP connect, multistream, Noise XX, Yamux, identify in both directions.</summary>
public sealed class ConnectionSetupBench : IBench
{
    /// <inheritdoc />
    public string Name => "connection-setup";

    /// <inheritdoc />
    public string Description => "TCP+Noise+Yamux+identify over loopback, ms per connection (vs js-libp2p; args: --count N)";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var count = (int)BenchArgs.GetLong(args, "--count", 200);
        const int warmup = 10;
        using var listenerIdentity = Ed25519Identity.Generate();
        using var dialerIdentity = Ed25519Identity.Generate();
        await using var listener = new PeerHost(new PeerHostOptions
        {
            Identity = listenerIdentity,
            Transports = [new TcpTransport()],
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
        });
        await listener.StartAsync(cancellationToken);
        await using var dialer = new PeerHost(new PeerHostOptions { Identity = dialerIdentity, Transports = [new TcpTransport()] });
        var address = listener.ListenAddresses[0].WithPeerId(listener.PeerId);

        var samples = new List<double>(count);
        for (var i = 0; i < warmup + count; i++)
        {
            var identified = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnIdentified(object? sender, PeerEventArgs e) => identified.TrySetResult();
            dialer.PeerIdentified += OnIdentified;
            var stopwatch = Stopwatch.StartNew();
            await dialer.DialAsync(address, cancellationToken);
            await identified.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            stopwatch.Stop();
            dialer.PeerIdentified -= OnIdentified;
            if (i >= warmup) samples.Add(stopwatch.Elapsed.TotalMilliseconds);
            await dialer.DisconnectAsync(listener.PeerId, cancellationToken);
        }

        samples.Sort();
        var median = Percentile(samples, 0.5);
        var p90 = Percentile(samples, 0.9);
        var mean = samples.Average();
        Console.WriteLine($"connection-setup: {count} connections, median {median:0.00} ms, p90 {p90:0.00} ms, mean {mean:0.00} ms");
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["bench"] = Name,
            ["impl"] = "kontinuum",
            ["connections"] = count,
            ["medianMs"] = Math.Round(median, 3),
            ["p90Ms"] = Math.Round(p90, 3),
            ["meanMs"] = Math.Round(mean, 3),
            ["minMs"] = Math.Round(samples[0], 3),
            ["maxMs"] = Math.Round(samples[^1], 3),
        }));
        return 0;
    }

    private static double Percentile(List<double> sorted, double fraction)
    {
        var index = (int)Math.Ceiling(fraction * sorted.Count) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Count - 1)];
    }
}
