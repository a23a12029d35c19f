using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Benchmarks;

/// <summary>One stream, TCP loopback + Noise + Yamux, bulk transfer into a sink that acknowledges the byte count.</summary>
public sealed partial class StreamThroughputBench : IBench
{
    // Same protocol as the js harness sink: count bytes until FIN, answer the count as 8 big-endian bytes.
    private const string SinkProtocol = "/kontinuum/sink/1.0.0";
    private const int ChunkSize = 256 * 1024;

    /// <inheritdoc />
    public string Name => "stream-throughput";

    /// <inheritdoc />
    public string Description =>
        "one Noise+Yamux stream over TCP loopback, MB/s, against the one-core AEAD rate of the same run after a JIT warm-up, median of --repeats runs (target >= 60 %; args: --bytes N --repeats R --aead-seconds S per repetition; --split puts the receiving end in a child process and prints each end's CPU)";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var total = BenchArgs.GetLong(args, "--bytes", 1L << 30);
        // At least 1 s: a zero-length measurement has no rate (and JSON cannot carry NaN).
        var aeadDuration = TimeSpan.FromSeconds(Math.Max(1, BenchArgs.GetLong(args, "--aead-seconds", 1)));
        var repeats = (int)Math.Clamp(BenchArgs.GetLong(args, "--repeats", 7), 1, 50);
        if (args.Contains(SinkChildArg)) return await RunSinkChildAsync(cancellationToken);
        using var dialerIdentity = Ed25519Identity.Generate();
        // The receiving end: in this process, or (--split) in a child whose CPU is read per repetition.
        await using var receiver = args.Contains("--split") ? await SinkChild.StartAsync(cancellationToken) : (IReceiver)await StartSinkAsync(cancellationToken);
        await using var dialer = new PeerHost(new PeerHostOptions { Identity = dialerIdentity, Transports = [new TcpTransport()] });
        var connection = await dialer.DialAsync(receiver.Address, cancellationToken);

        // Steady state, as BenchmarkDotNet measures it: uncounted warm-up transfers until tier-1 (and PGO) code runs. Code
        // run once per transfer (stream open and close) needs 30 calls before tiering looks at it, and the tiering delay
        // is 100 ms without new tier-0 methods, so a round without JIT proves little on its own: at least 35 rounds and
        // 2 s, then until two rounds in a row compiled for under 1 ms. Bounded: 80 rounds or 30 s.
        var warmUp = Stopwatch.StartNew();
        // The AEAD measurement is warmed up too: its tier-1 compiles would otherwise land in the first transfers.
        AeadBench.MeasureBcl(AeadKey(), AeadMessage(), TimeSpan.FromMilliseconds(300), cancellationToken);
        var quietRounds = 0;
        var warmUpBytes = 0L;
        for (var round = 0; round < 80 && warmUp.Elapsed < TimeSpan.FromSeconds(30); round++)
        {
            var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
            var bytes = Math.Min(total, 32L << 20);
            await TransferAsync(connection, bytes, cancellationToken);
            warmUpBytes += bytes;
            if (round % 8 == 7)
            {
                AeadBench.MeasureBcl(AeadKey(), AeadMessage(), TimeSpan.FromMilliseconds(50), cancellationToken);
                StreamFloorBench.MeasureIdeal(bytes, cancellationToken);
            }
            quietRounds = System.Runtime.JitInfo.GetCompilationTime() - jitBefore < TimeSpan.FromMilliseconds(1) ? quietRounds + 1 : 0;
            if (quietRounds >= 2 && round >= 35 && warmUp.Elapsed >= TimeSpan.FromSeconds(2)) break;
        }
        Console.WriteLine($"stream-throughput: warm-up {warmUp.Elapsed.TotalSeconds:0.0} s, {warmUpBytes >> 20} MiB " +
            $"({(quietRounds >= 2 ? "JIT quiet" : "JIT still compiling: bounded out")}); " +
            $"{repeats} measured repetitions of {total:N0} bytes, each between two AEAD measurements");

        var runs = new List<Repetition>(repeats);
        for (var repetition = 0; repetition < repeats; repetition++)
        {
            runs.Add(await MeasureOnceAsync(connection, receiver, total, aeadDuration / 2, cancellationToken));
            var run = runs[^1];
            var ends = receiver.IsSeparate ? $" = sender {run.CpuNsPerByte - run.ReceiverNsPerByte:0.00} + receiver {run.ReceiverNsPerByte:0.00}" : "";
            Console.WriteLine($"  #{repetition + 1}: {run.MegabytesPerSecond,6:0} MB/s, AEAD {run.AeadWall,5:0} MB/s -> {run.Ratio,4:P0} (ideal pipeline {run.IdealRatio:P0}); " +
                $"CPU {run.CpuNsPerByte:0.00} ns/B{ends} (bound {run.TwoCoreBound:P0}); JIT {run.JitSeconds * 1e3:0} ms; {run.AllocatedPerMiB:0} B/MiB; " +
                $"switches/MiB {run.VoluntarySwitchesPerMiB:0.0} voluntary, {run.InvoluntarySwitchesPerMiB:0.0} preempted; " +
                $"thread-pool work items/MiB {run.WorkItemsPerMiB:0.0}{(receiver.IsSeparate ? " (sending end)" : "")}");
        }
        var ratios = runs.Select(r => r.Ratio).Order().ToArray();
        var idealRatios = runs.Select(r => r.IdealRatio).Order().ToArray();
        var toIdeal = runs.Select(r => r.Ratio / r.IdealRatio).Order().ToArray();
        var bounds = runs.Select(r => r.TwoCoreBound).Order().ToArray();
        var median = Median(ratios);
        var medianRun = runs.OrderBy(r => r.Ratio).ElementAt(runs.Count / 2);
        var cryptoNsPerByte = Median(runs.Select(r => 2 * 1e3 / r.AeadCpu).Order().ToArray());
        var cpuNsPerByte = Median(runs.Select(r => r.CpuNsPerByte).Order().ToArray());
        Console.WriteLine($"  stream / AEAD (wall): median {median:P0} (min {ratios[0]:P0}, max {ratios[^1]:P0}) of {runs.Count}; " +
            $"target >= 60 %: {(median >= 0.6 ? "met" : "NOT met")}");
        // A baseline on the same machine: the simplest fast stream, two threads on blocking sockets, no muxer (stream-floor).
        Console.WriteLine($"  ideal two-thread pipeline (stream-floor) between the same AEAD measurements: median {Median(idealRatios):P0} " +
            $"(min {idealRatios[0]:P0}, max {idealRatios[^1]:P0}) of the AEAD rate; this stack at median {Median(toIdeal):P0} of it");
        // Load-independent view: the two ends share two cores, so even a perfect split of the work between them reaches at
        // most 2 x (stream MB per CPU-second) on the wall clock.
        Console.WriteLine($"  two-core arithmetic bound (2 / CPU ns per byte, against the one-core AEAD): median {Median(bounds):P0} " +
            $"(min {bounds[0]:P0}, max {bounds[^1]:P0})");
        Console.WriteLine($"  CPU, both ends: median {cpuNsPerByte:0.00} ns/byte (seal + open alone: {cryptoNsPerByte:0.00} ns/byte); " +
            $"JIT inside the measured transfers: {runs.Sum(r => r.JitSeconds) * 1e3:0} ms in all");
        var receiverNsPerByte = Median(runs.Select(r => r.ReceiverNsPerByte).Order().ToArray());
        if (receiver.IsSeparate)
            Console.WriteLine($"  CPU per end (two processes): sender median {Median(runs.Select(r => r.CpuNsPerByte - r.ReceiverNsPerByte).Order().ToArray()):0.00} ns/byte, " +
                $"receiver median {receiverNsPerByte:0.00} ns/byte (the receiver's JIT and allocation are not in the figures above)");
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["bench"] = Name,
            ["impl"] = receiver.IsSeparate ? "kontinuum-split" : "kontinuum",
            ["protocol"] = "sink",
            ["bytes"] = total,
            ["repeats"] = runs.Count,
            ["warmUpSeconds"] = Math.Round(warmUp.Elapsed.TotalSeconds, 2),
            ["seconds"] = Math.Round(medianRun.Seconds, 4),
            ["mbPerSec"] = Math.Round(medianRun.MegabytesPerSecond, 1),
            ["cpuNsPerByte"] = Math.Round(cpuNsPerByte, 3),
            ["aeadMBps"] = Math.Round(medianRun.AeadWall),
            ["ratioToAead"] = Math.Round(median, 3),
            ["ratioMin"] = Math.Round(ratios[0], 3),
            ["ratioMax"] = Math.Round(ratios[^1], 3),
            ["twoCoreBound"] = Math.Round(Median(bounds), 3),
            ["idealRatioToAead"] = Math.Round(Median(idealRatios), 3),
            ["ratioToIdeal"] = Math.Round(Median(toIdeal), 3),
            ["jitSeconds"] = Math.Round(runs.Sum(r => r.JitSeconds), 3),
            ["voluntarySwitchesPerMiB"] = Math.Round(Median(runs.Select(r => r.VoluntarySwitchesPerMiB).Order().ToArray()), 2),
            ["workItemsPerMiB"] = Math.Round(Median(runs.Select(r => r.WorkItemsPerMiB).Order().ToArray()), 2),
            ["allocatedBytesPerMiB"] = Math.Round(Median(runs.Select(r => r.AllocatedPerMiB).Order().ToArray())),
            ["receiverCpuNsPerByte"] = receiver.IsSeparate ? Math.Round(receiverNsPerByte, 3) : null!,
            ["target"] = 0.6,
        }));
        return 0;
    }

    private readonly record struct Repetition(double Seconds, double MegabytesPerSecond, double AeadWall, double AeadCpu,
        double CpuNsPerByte, double JitSeconds, double AllocatedPerMiB, double VoluntarySwitchesPerMiB, double InvoluntarySwitchesPerMiB,
        double ReceiverNsPerByte, double WorkItemsPerMiB, double IdealMegabytesPerSecond)
    {
        public double Ratio => MegabytesPerSecond / AeadWall;

        // The ideal pipeline's rate (stream-floor) against the same AEAD measurements.
        public double IdealRatio => IdealMegabytesPerSecond / AeadWall;

        // The best wall rate two cores shared by both ends could give, against the one-core AEAD rate.
        public double TwoCoreBound => 2 * 1e3 / CpuNsPerByte / AeadCpu;
    }

    // One measured transfer between two AEAD measurements, so a change in load shows in both.
    private static async Task<Repetition> MeasureOnceAsync(IConnection connection, IReceiver receiver, long total, TimeSpan aeadDuration,
        CancellationToken cancellationToken)
    {
        var aeadBefore = AeadBench.MeasureBcl(AeadKey(), AeadMessage(), aeadDuration, cancellationToken);
        // CPU time of both ends (one process): on a shared machine the wall rate mostly measures the load.
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
        // Every thread's allocations (both ends, socket loops), so a per-frame allocation anywhere shows.
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        // Voluntary context switches count thread hand-offs and waits (both ends); preemptions mostly count the load.
        var switchesBefore = ProcessResourceUsage.ContextSwitches();
        // Thread-pool work items count the hand-offs between threads (socket completions, pipe wake-ups): unlike CPU time,
        // a count the load does not inflate. Both ends without --split, the sending end alone with it.
        var workItemsBefore = ThreadPool.CompletedWorkItemCount;
        var receiverBefore = receiver.CpuSeconds();
        var stopwatch = Stopwatch.StartNew();
        await TransferAsync(connection, total, cancellationToken);
        stopwatch.Stop();
        var receiverSeconds = receiver.CpuSeconds() - receiverBefore;
        var switchesAfter = ProcessResourceUsage.ContextSwitches();
        var workItems = ThreadPool.CompletedWorkItemCount - workItemsBefore;
        var mebibytes = (double)Math.Max(1, total >> 20);
        var allocatedPerMiB = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / mebibytes;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds + receiverSeconds;
        var jitSeconds = (System.Runtime.JitInfo.GetCompilationTime() - jitBefore).TotalSeconds;
        var ideal = StreamFloorBench.MeasureIdeal(total, cancellationToken);
        var aeadAfter = AeadBench.MeasureBcl(AeadKey(), AeadMessage(), aeadDuration, cancellationToken);
        var seconds = stopwatch.Elapsed.TotalSeconds;
        return new Repetition(seconds, total / 1e6 / seconds, (aeadBefore.Wall + aeadAfter.Wall) / 2,
            (aeadBefore.Cpu + aeadAfter.Cpu) / 2, cpuSeconds * 1e9 / total, jitSeconds, allocatedPerMiB,
            (switchesAfter.Voluntary - switchesBefore.Voluntary) / mebibytes, (switchesAfter.Involuntary - switchesBefore.Involuntary) / mebibytes,
            receiverSeconds * 1e9 / total, workItems / mebibytes, ideal.MBps);
    }

    /// <summary>The median of an ascending array.</summary>
    internal static double Median(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;

    private static byte[] AeadKey() => System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

    private static byte[] AeadMessage() => System.Security.Cryptography.RandomNumberGenerator.GetBytes(64 * 1024);

    private static async Task TransferAsync(IConnection connection, long total, CancellationToken cancellationToken)
    {
        var stream = await connection.NewStreamAsync([SinkProtocol], cancellationToken);
        await using (stream)
        {
            var chunk = new byte[ChunkSize];
            Random.Shared.NextBytes(chunk);
            for (var sent = 0L; sent < total; sent += ChunkSize)
            {
                var size = (int)Math.Min(ChunkSize, total - sent);
                var flush = await stream.Output.WriteAsync(chunk.AsMemory(0, size), cancellationToken);
                if (flush.IsCompleted) throw new IOException("the sink closed early");
            }
            await stream.Output.CompleteAsync();
            var ack = await ReadAckAsync(stream.Input, cancellationToken);
            if (ack != total) throw new InvalidDataException($"sink counted {ack} bytes, sent {total}");
        }
    }

    internal static async ValueTask SinkAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        long received = 0;
        while (true)
        {
            var result = await stream.Input.ReadAsync(cancellationToken);
            received += result.Buffer.Length;
            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) break;
        }
        var ack = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(ack, received);
        await stream.Output.WriteAsync(ack, cancellationToken);
        await stream.Output.CompleteAsync();
    }

    private static async Task<long> ReadAckAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            if (result.Buffer.Length >= 8)
            {
                var bytes = new byte[8];
                result.Buffer.Slice(0, 8).CopyTo(bytes);
                input.AdvanceTo(result.Buffer.GetPosition(8));
                return BinaryPrimitives.ReadInt64BigEndian(bytes);
            }
            if (result.IsCompleted) throw new EndOfStreamException("no acknowledgement from the sink");
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}

/// <summary>Tiny <c>--name value</c> argument reader for the host benches.</summary>
internal static class BenchArgs
{
    public static long GetLong(string[] args, string name, long fallback)
    {
        var index = Array.IndexOf(args, name);
        if (index < 0 || index + 1 >= args.Length) return fallback;
        return long.Parse(args[index + 1], NumberStyles.Integer, CultureInfo.InvariantCulture);
    }

    public static string? GetString(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index < 0 || index + 1 >= args.Length ? null : args[index + 1];
    }
}
