using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Net.Hosting;

namespace KontinuumP2P.Benchmarks;

// `content --variants LIST --variant-rounds N`: download configurations compared in one run, each round a raw stream
// and then every variant once (the order rotates from round to round, so none always follows the raw stream or the
// same neighbour). Per variant: the median share of its round's raw stream, MB/s, process CPU per MiB (both ends) and
// how busy the cores were while it ran (CPU seconds / wall seconds / cores), and the process's demand for cores: the
// time its threads ran plus the time they were runnable but waited for a core (schedstat), per wall second. On a
// shared machine "busy" falls when other processes take the cores; demand does not: a demand of 2 or more on 2 cores
// means the download alone would keep both busy (CPU bound), below 2 its own threads were asleep (pipeline stalls).
public sealed partial class ContentBench
{
    /// <summary>
    /// One download configuration: streams per holder × fetches in flight per stream × chunks per fetch (the client's
    /// default is 4x2x16), on the bench's client host (each stream's receive window starts at 4 MiB) or, with the
    /// suffix ":spec-window", on a second client host with default yamux options, as an application's host has them
    /// (256 KiB, the spec's initial window, auto-tuned up to 16 MiB).
    /// </summary>
    private sealed record Variant(string Name, int Streams, int Depth, int Batch, bool SpecWindow)
    {
        public static Variant Parse(string text)
        {
            var (shape, host) = text.Split(':') is [var s, var h] ? (s, h) : (text, "");
            var parts = shape.Split('x').Select(p => int.TryParse(p, CultureInfo.InvariantCulture, out var n) ? n : -1).ToArray();
            if (parts.Length != 3 || parts.Any(p => p < 1) || host is not ("" or "spec-window"))
                throw new ArgumentException($"a variant is SxDxB[:spec-window] (streams x fetches in flight x chunks per fetch), not {text}");
            return new Variant(text, parts[0], parts[1], parts[2], host == "spec-window");
        }
    }

    private static async Task RunVariantsAsync(string list, int rounds, PeerHost client, IConnection connection,
        ContentReference reference, ContentHolder holder, int chunkSize, string directory, long size, CancellationToken cancellationToken)
    {
        var variants = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Variant.Parse).ToArray();
        using var specIdentity = KontinuumP2P.Core.Identity.Ed25519Identity.Generate();
        await using var specHost = new PeerHost(new PeerHostOptions { Identity = specIdentity, Transports = [new KontinuumP2P.Net.Transports.TcpTransport()] });
        if (variants.Any(v => v.SpecWindow))
        {
            await specHost.StartAsync(cancellationToken);
            await specHost.DialAsync(holder.Addresses[0].WithPeerId(holder.Peer), cancellationToken);
        }
        var clients = variants.Select(v => new ContentClient(v.SpecWindow ? specHost : client, new ContentClientOptions
        {
            ChunkSize = chunkSize, StreamsPerHolder = v.Streams, FetchDepth = v.Depth, FetchBatch = v.Batch,
        })).ToArray();
        var mib = size / (double)(1 << 20);
        var raw = new List<(double Seconds, double Cpu, double Demand)>();
        var results = variants.Select(_ => new List<(double Seconds, double Cpu, double Kernel, double Share, double Demand)>()).ToArray();
        var process = Process.GetCurrentProcess();
        (double Seconds, double Cpu, double Kernel) Measure(Stopwatch clock, TimeSpan cpuBefore, TimeSpan kernelBefore)
        {
            var seconds = clock.Elapsed.TotalSeconds;
            process.Refresh();
            return (seconds, (process.TotalProcessorTime - cpuBefore).TotalMilliseconds / mib, (process.PrivilegedProcessorTime - kernelBefore).TotalMilliseconds / mib);
        }
        for (var round = 0; round < rounds; round++)
        {
            process.Refresh();
            var (cpu, kernel) = (process.TotalProcessorTime, process.PrivilegedProcessorTime);
            var scheduled = SchedulerSeconds();
            var clock = Stopwatch.StartNew();
            await SendToSinkAsync(connection, size, cancellationToken);
            var rawRun = Measure(clock, cpu, kernel);
            raw.Add((rawRun.Seconds, rawRun.Cpu, (SchedulerSeconds() - scheduled) / rawRun.Seconds));
            for (var k = 0; k < variants.Length; k++)
            {
                var v = (k + round) % variants.Length;
                var output = Path.Combine(directory, $"variant-{v}.bin");
                process.Refresh();
                (cpu, kernel) = (process.TotalProcessorTime, process.PrivilegedProcessorTime);
                scheduled = SchedulerSeconds();
                clock.Restart();
                var download = await clients[v].DownloadAsync(reference, [holder], output, cancellationToken: cancellationToken);
                var run = Measure(clock, cpu, kernel);
                var demand = (SchedulerSeconds() - scheduled) / run.Seconds;
                if (download.ChunksFetched != reference.ChunkCount) throw new InvalidDataException($"variant {variants[v].Name} did not fetch every chunk");
                results[v].Add((run.Seconds, run.Cpu, run.Kernel, rawRun.Seconds / run.Seconds, demand));
                // Freeing the file's pages is charged to no variant.
                File.Delete(output);
            }
        }
        static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }
        var cores = Environment.ProcessorCount;
        double Busy(double seconds, double cpuMsPerMib) => cpuMsPerMib * mib / 1000 / seconds / cores;
        var rawSeconds = Median(raw.Select(r => r.Seconds));
        var rawCpu = Median(raw.Select(r => r.Cpu));
        var rawDemand = Median(raw.Select(r => r.Demand));
        Console.WriteLine($"content variants: {rounds} rounds, each a raw stream then every variant (rotating order), {size:N0} bytes; medians");
        Console.WriteLine($"  raw stream                 {size / 1e6 / rawSeconds,7:0.0} MB/s                CPU {rawCpu,5:0.00} ms/MiB  cores busy {Busy(rawSeconds, rawCpu),4:P0}  demand {rawDemand:0.00} cores");
        var json = new List<Dictionary<string, object>>();
        for (var v = 0; v < variants.Length; v++)
        {
            var r = results[v];
            var (seconds, cpu, kernel, share) = (Median(r.Select(x => x.Seconds)), Median(r.Select(x => x.Cpu)), Median(r.Select(x => x.Kernel)), Median(r.Select(x => x.Share)));
            var busy = Median(r.Select(x => Busy(x.Seconds, x.Cpu)));
            var demand = Median(r.Select(x => x.Demand));
            Console.WriteLine($"  {variants[v].Name,-26} {size / 1e6 / seconds,7:0.0} MB/s  share {share,4:P0}  CPU {cpu,5:0.00} ms/MiB (kernel {kernel:0.00})  cores busy {busy,4:P0}  demand {demand:0.00} cores"
                + $"  shares: {string.Join(" ", r.Select(x => x.Share.ToString("P0", CultureInfo.InvariantCulture)))}");
            json.Add(new Dictionary<string, object>
            {
                ["variant"] = variants[v].Name, ["mbPerSec"] = Math.Round(size / 1e6 / seconds, 1), ["medianShare"] = Math.Round(share, 3),
                ["cpuMsPerMib"] = Math.Round(cpu, 2), ["kernelMsPerMib"] = Math.Round(kernel, 2), ["coresBusy"] = Math.Round(busy, 3), ["demandCores"] = Math.Round(demand, 2),
                ["shares"] = r.Select(x => Math.Round(x.Share, 3)).ToArray(),
            });
        }
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["bench"] = "content-variants", ["rounds"] = rounds, ["rawMbPerSec"] = Math.Round(size / 1e6 / rawSeconds, 1), ["rawCpuMsPerMib"] = Math.Round(rawCpu, 2),
            ["rawCoresBusy"] = Math.Round(Busy(rawSeconds, rawCpu), 3), ["rawDemandCores"] = Math.Round(rawDemand, 2), ["variants"] = json,
        }));
    }

    /// <summary>
    /// Seconds this process's threads ran plus seconds they waited runnable for a core, summed over its live threads
    /// (/proc/self/task/*/schedstat; NaN off Linux). A thread that ends between two readings drops out of the second.
    /// </summary>
    private static double SchedulerSeconds()
    {
        if (!OperatingSystem.IsLinux()) return double.NaN;
        long nanoseconds = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                var fields = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ');
                nanoseconds += long.Parse(fields[0], CultureInfo.InvariantCulture) + long.Parse(fields[1], CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // The thread ended while we looked.
            }
        }
        return nanoseconds / 1e9;
    }
}
