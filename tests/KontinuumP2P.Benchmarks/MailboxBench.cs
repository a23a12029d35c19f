using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// Mailbox server: durable pushes per second over real host streams (TCP loopback, Noise, Yamux) with ack latency
/// percentiles, against 0k-sync's storage path on the same SQLite; push latency at 100 vs 100,000 blobs in the
/// mailbox; pull blobs per second per stream and a 10,000-blob catch-up.
/// </summary>
public sealed partial class MailboxBench : IBench
{
    /// <inheritdoc />
    public string Name => "mailbox";

    /// <inheritdoc />
    public string Description =>
        "mailbox durable pushes/s + p50/p99 ack over host streams vs the 0k-sync storage path; latency at 100 vs 100k blobs; pull blobs/s " +
        "(args: --pushes N --sessions S --inflight F --rate R --rate-seconds T --sync full|fullcommit|normal --checkpoint background|writer --checkpoint-ms MS --page-size B --connections C --restart-pages P --backstop-pages P --catch-up-passes N --wal-sync data|full --db-sync bg|none --clients process|inprocess --gen0-mib M --fill N --pull-rounds R --push-only)";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        // The node's gen0 budget (see MailboxClientProcess.ReRunWithGen0Async); --gen0-mib 0 keeps the runtime's default.
        if (await MailboxClientProcess.ReRunWithGen0Async(Name, args, BenchArgs.GetLong(args, "--gen0-mib", MailboxClientProcess.NodeGen0Mib), cancellationToken) is { } exit)
            return exit;
        var gen0 = Environment.GetEnvironmentVariable("DOTNET_GCgen0size") ?? "runtime default";
        Console.WriteLine($"GC gen0 budget (DOTNET_GCgen0size): {gen0}");
        var pushes = (int)BenchArgs.GetLong(args, "--pushes", 50_000);
        var sessions = (int)BenchArgs.GetLong(args, "--sessions", 4);
        var inFlight = (int)BenchArgs.GetLong(args, "--inflight", 16);
        var fill = (int)BenchArgs.GetLong(args, "--fill", 100_000);
        // More rounds of the pipelined pull give a profiler a longer pull phase.
        var pullRounds = (int)Math.Max(1, BenchArgs.GetLong(args, "--pull-rounds", 1));
        // Open loop: pushes due on a fixed schedule at this rate (0 skips it), for this many seconds.
        var openRate = BenchArgs.GetLong(args, "--rate", PushTargetRate);
        var openSeconds = BenchArgs.GetLong(args, "--rate-seconds", 5);
        var syncIndex = Array.IndexOf(args, "--sync");
        var sync = syncIndex < 0 || syncIndex + 1 >= args.Length ? "full" : args[syncIndex + 1];
        if (sync is not ("full" or "fullcommit" or "normal")) throw new ArgumentException($"--sync {sync}: expected full, fullcommit or normal");
        // full: power-loss durable with the WAL flush overlapped (the default); fullcommit: each COMMIT fsyncs (synchronous=FULL).
        var syncFull = sync != "normal";
        var connectionsIndex = Array.IndexOf(args, "--connections");
        var connections = connectionsIndex < 0 || connectionsIndex + 1 >= args.Length ? 1 : int.Parse(args[connectionsIndex + 1], System.Globalization.CultureInfo.InvariantCulture);
        if (connections < 1) throw new ArgumentException("--connections must be at least 1");
        var clientsIndex = Array.IndexOf(args, "--clients");
        var clientMode = clientsIndex < 0 || clientsIndex + 1 >= args.Length ? "process" : args[clientsIndex + 1];
        if (clientMode is not ("process" or "inprocess")) throw new ArgumentException($"--clients {clientMode}: expected process or inprocess");
        var inProcess = clientMode == "inprocess";
        var checkpointIndex = Array.IndexOf(args, "--checkpoint");
        var checkpoint = checkpointIndex < 0 || checkpointIndex + 1 >= args.Length ? "background" : args[checkpointIndex + 1];
        if (checkpoint is not ("background" or "writer")) throw new ArgumentException($"--checkpoint {checkpoint}: expected background or writer");
        // background: passive checkpoints on their own connection (the default); writer: SQLite's automatic checkpoint on the writer.
        var checkpointInterval = checkpoint == "writer" ? TimeSpan.Zero
            : BenchArgs.GetLong(args, "--checkpoint-ms", 0) is > 0 and var ms ? TimeSpan.FromMilliseconds(ms)
            : new MailboxStoreOptions { DatabasePath = "x" }.CheckpointInterval;
        // The new database's page size (the store's default 1 KiB; 4096 is what stores created before 2026-12-05 have).
        var pageSize = (int)BenchArgs.GetLong(args, "--page-size", new MailboxStoreOptions { DatabasePath = "x" }.PageSize);
        var directory = Path.Combine(Path.GetTempPath(), "kp-mailbox-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            var results = new Dictionary<string, object> { ["bench"] = Name, ["blobBytes"] = 1024, ["sync"] = sync, ["checkpoint"] = checkpoint, ["pageSize"] = pageSize, ["connections"] = connections, ["clients"] = clientMode, ["gen0Size"] = gen0 };
            var blob = RandomNumberGenerator.GetBytes(1024);

            // Baseline on its own file in the same folder (same disk, same SQLite, same sync mode), run before and after
            // our pushes; the better of the two runs is the baseline (in its favour on a noisy machine).
            var baselineCount = Math.Min(pushes, 5_000);
            var baselineRates = new List<double>();
            void RunBaseline(string file)
            {
                using var baseline = new ZeroKSyncBaseline(Path.Combine(directory, file), syncFull);
                baseline.Run(200, RandomNumberGenerator.GetBytes(16), blob); // warm-up
                var (latencies, elapsed) = baseline.Run(baselineCount, RandomNumberGenerator.GetBytes(16), blob);
                var baselineRate = baselineCount / elapsed.TotalSeconds;
                Array.Sort(latencies);
                if (baselineRates.Count == 0 || baselineRate > baselineRates.Max())
                {
                    results["zeroKSyncPushesPerSecond"] = Math.Round(baselineRate);
                    results["zeroKSyncP50Ms"] = Math.Round(Percentile(latencies, 0.50), 3);
                    results["zeroKSyncP99Ms"] = Math.Round(Percentile(latencies, 0.99), 3);
                }
                baselineRates.Add(baselineRate);
                Console.WriteLine($"0k-sync path: {baselineCount:N0} pushes, {baselineRate:N0}/s, p50 {Percentile(latencies, 0.5):0.000} ms, p99 {Percentile(latencies, 0.99):0.000} ms");
            }
            RunBaseline("zerok-1.db");

            // Store tuning for before/after runs of the WAL restart (defaults: the store's own).
            var defaults = new MailboxStoreOptions { DatabasePath = "x" };
            var restartPages = (int)BenchArgs.GetLong(args, "--restart-pages", defaults.CheckpointRestartPages);
            var backstopPages = (int)BenchArgs.GetLong(args, "--backstop-pages", Math.Max(defaults.CheckpointBackstopPages, 4 * restartPages));
            results["restartPages"] = restartPages;
            results["backstopPages"] = backstopPages;
            var catchUpPasses = (int)BenchArgs.GetLong(args, "--catch-up-passes", defaults.RestartCatchUpPasses);
            results["catchUpPasses"] = catchUpPasses;
            var walSyncIndex = Array.IndexOf(args, "--wal-sync");
            var walSync = walSyncIndex >= 0 && walSyncIndex + 1 < args.Length ? args[walSyncIndex + 1] : defaults.WalDataSync ? "data" : "full";
            if (walSync is not ("data" or "full")) throw new ArgumentException($"--wal-sync {walSync}: expected data or full");
            var dbSyncIndex = Array.IndexOf(args, "--db-sync");
            var dbSync = dbSyncIndex >= 0 && dbSyncIndex + 1 < args.Length ? args[dbSyncIndex + 1] : defaults.BackgroundDatabaseSync ? "bg" : "none";
            if (dbSync is not ("bg" or "none")) throw new ArgumentException($"--db-sync {dbSync}: expected bg or none");
            results["walSync"] = walSync;
            results["dbSync"] = dbSync;
            await using var rig = await Rig.StartAsync(Path.Combine(directory, "mailbox.db"), syncFull, sync == "full", checkpointInterval, pageSize, connections,
                o => o with { CheckpointRestartPages = restartPages, CheckpointBackstopPages = backstopPages, RestartCatchUpPasses = catchUpPasses, WalDataSync = walSync == "data", BackgroundDatabaseSync = dbSync == "bg" }, cancellationToken);

            // 1. Durable push throughput: S sessions (one mailbox each) with F pushes in flight per session. The clients run
            // in a child process by default (a mailbox node is its own process; client GC and threads no longer stall the
            // server's) or, with --clients inprocess, in this one.
            var clients = new List<MailboxSession>();
            MailboxClientProcess.Phases? child = null;
            double rate, pushP50, pushP99;
            string cpuNote;
            if (inProcess)
            {
                foreach (var _ in Enumerable.Range(0, sessions)) clients.Add(await rig.OpenAsync(NewCredentials(), cancellationToken));
                await PushLoadAsync(clients, inFlight, Math.Min(pushes / 10, 5_000), blob, cancellationToken); // warm-up
                var pushCpu = CpuTime();
                var (pushLatencies, pushElapsed) = await PushLoadAsync(clients, inFlight, pushes, blob, cancellationToken);
                pushCpu = CpuTime() - pushCpu;
                // CPU time of the whole process (client, server, SQLite) per push: what the code costs, whatever the load.
                results["pushCpuMicrosPerPush"] = Math.Round(pushCpu.TotalMicroseconds / pushes, 1);
                cpuNote = $"{pushCpu.TotalMicroseconds / pushes:0.0} us CPU per push (clients and server in one process)";
                rate = pushes / pushElapsed.TotalSeconds;
                pushP50 = Percentile(pushLatencies, 0.50);
                pushP99 = Percentile(pushLatencies, 0.99);
            }
            else
            {
                child = await MailboxClientProcess.RunAsync(rig.ServerAddress, sessions, inFlight, pushes, openRate, openSeconds, connections,
                    () =>
                    {
                        rig.Server.Store.FlushTimes.Start();
                        rig.Server.Store.CommitTimes.Start();
                        StoreStalls.Start(rig.Server.Store);
                    }, cancellationToken);
                rate = child.Closed.GetProperty("pushesPerSecond").GetDouble();
                pushP50 = child.Closed.GetProperty("p50Ms").GetDouble();
                pushP99 = child.Closed.GetProperty("p99Ms").GetDouble();
                var serverCpu = child.ServerClosedCpu.TotalMicroseconds / pushes;
                var clientCpu = child.Closed.GetProperty("clientCpuMicrosPerPush").GetDouble();
                results["pushCpuMicrosPerPush"] = Math.Round(serverCpu + clientCpu, 1);
                results["pushServerCpuMicrosPerPush"] = Math.Round(serverCpu, 1);
                results["pushClientCpuMicrosPerPush"] = Math.Round(clientCpu, 1);
                cpuNote = $"{serverCpu + clientCpu:0.0} us CPU per push (server process {serverCpu:0.0}, client process {clientCpu:0.0})";
            }
            RunBaseline("zerok-2.db");
            var baselineRate = baselineRates.Max();
            results["pushes"] = pushes;
            results["sessions"] = sessions;
            results["inFlightPerSession"] = inFlight;
            results["pushesPerSecond"] = Math.Round(rate);
            results["p50Ms"] = Math.Round(pushP50, 3);
            results["p99Ms"] = Math.Round(pushP99, 3);
            results["ratioToZeroKSync"] = Math.Round(rate / baselineRate, 2);
            var statistics = rig.Server.Store.Statistics;
            results["meanBatch"] = Math.Round((double)statistics.Pushes / Math.Max(1, statistics.Batches), 1);
            // Only the overlapped mode flushes on its own (fullcommit and normal never do).
            var flushes = rig.Server.Store.Flushes;
            results["meanGroupsPerFlush"] = flushes == 0 ? "n/a" : Math.Round((double)statistics.Batches / flushes, 2);
            Console.WriteLine($"mailbox push (closed loop, maximum, clients {clientMode}): {pushes:N0} pushes over {sessions} sessions x {inFlight} in flight, {rate:N0}/s, " +
                $"p50 {pushP50:0.000} ms, p99 {pushP99:0.000} ms, {rate / baselineRate:0.00}x the 0k-sync path " +
                $"(target >= 2.5x: {(rate / baselineRate >= 2.5 ? "met" : "not met")}); {cpuNote}; " +
                $"mean group {results["meanBatch"]} pushes, {results["meanGroupsPerFlush"]} groups per WAL flush");
            if (openRate > 0 && inProcess) await MailboxOpenLoop.RunAndReportAsync(clients, openRate, openSeconds, blob, results, cancellationToken);
            if (child?.Open is { } open)
            {
                // The child's figures (latency, client CPU and GC), then the server process's own over the same seconds.
                foreach (var property in open.EnumerateObject()) results[property.Name] = property.Value.Clone();
                var openPushes = open.GetProperty("openLoopPushes").GetInt32();
                var serverCpu = child.ServerOpenCpu.TotalMicroseconds / openPushes;
                results["openLoopServerCpuMicrosPerPush"] = Math.Round(serverCpu, 1);
                results["openLoopServerGcPauseMs"] = Math.Round(child.ServerOpenGcPause.TotalMilliseconds, 1);
                results["openLoopServerAllocatedBytesPerPush"] = child.ServerOpenAllocatedBytes / openPushes;
                // The disk's part of the ack latency: each WAL fsync of the open loop (the checkpoint's writes and syncs run beside them).
                var flushTimes = rig.Server.Store.FlushTimes.Take();
                var commitTimes = rig.Server.Store.CommitTimes.Take();
                results["openLoopWalFlushes"] = flushTimes.Length;
                results["openLoopWalFlushP50Ms"] = Math.Round(MailboxStoreBench.Quantile(flushTimes, 0.5), 3);
                results["openLoopWalFlushP99Ms"] = Math.Round(MailboxStoreBench.Quantile(flushTimes, 0.99), 3);
                results["openLoopWalFlushMaxMs"] = Math.Round(MailboxStoreBench.Quantile(flushTimes, 1), 3);
                results["openLoopCommitP99Ms"] = Math.Round(MailboxStoreBench.Quantile(commitTimes, 0.99), 3);
                results["openLoopCommitMaxMs"] = Math.Round(MailboxStoreBench.Quantile(commitTimes, 1), 3);
                Console.WriteLine($"store during the open loop ({rig.Server.Store.PageSize}-byte pages): {flushTimes.Length:N0} WAL fsyncs, p50 " +
                    $"{MailboxStoreBench.Quantile(flushTimes, 0.5):0.000} ms, p99 {MailboxStoreBench.Quantile(flushTimes, 0.99):0.000} ms, max " +
                    $"{MailboxStoreBench.Quantile(flushTimes, 1):0.000} ms; {commitTimes.Length:N0} group commits, p99 " +
                    $"{MailboxStoreBench.Quantile(commitTimes, 0.99):0.000} ms, max {MailboxStoreBench.Quantile(commitTimes, 1):0.000} ms");
                StoreStalls.Report(rig.Server.Store, results);
                StoreStalls.Correlate(rig.Server.Store, open);
                Console.WriteLine($"server process during the open loop: {serverCpu:0.0} us CPU and {child.ServerOpenAllocatedBytes / openPushes:N0} B allocated per push, " +
                    $"GC paused it {child.ServerOpenGcPause.TotalMilliseconds:0.0} ms " +
                    $"({child.ServerOpenGcs}); the open-loop lines above are the client process's (its CPU and GC)");
            }
            if (args.Contains("--push-only"))
            {
                // The push phases alone (profiling and before/after runs of the push path).
                foreach (var session in clients) await session.DisposeAsync();
                Console.WriteLine(JsonSerializer.Serialize(results));
                return 0;
            }

            // 2. Push latency, one push at a time, with 100 vs `fill` blobs already in the mailbox.
            var small = NewCredentials();
            var large = NewCredentials();
            var smallSession = await rig.OpenAsync(small, cancellationToken);
            var largeSession = await rig.OpenAsync(large, cancellationToken);
            await FillAsync(smallSession, 100, blob, cancellationToken);
            await FillAsync(largeSession, fill, blob, cancellationToken);
            var smallLatency = new List<double>();
            var largeLatency = new List<double>();
            for (var round = 0; round < 10; round++)
            {
                // Interleaved so drift on the machine hits both alike.
                smallLatency.AddRange(await SequentialAsync(smallSession, 200, cancellationToken));
                largeLatency.AddRange(await SequentialAsync(largeSession, 200, cancellationToken));
            }
            var smallSorted = smallLatency.Order().ToArray();
            var largeSorted = largeLatency.Order().ToArray();
            results["latencyAt100P50Ms"] = Math.Round(Percentile(smallSorted, 0.5), 3);
            results[$"latencyAt{fill}P50Ms"] = Math.Round(Percentile(largeSorted, 0.5), 3);
            results["latencyRatio"] = Math.Round(Percentile(largeSorted, 0.5) / Percentile(smallSorted, 0.5), 3);
            Console.WriteLine($"push latency (one at a time): p50 {Percentile(smallSorted, 0.5):0.000} ms at 100 blobs, " +
                $"{Percentile(largeSorted, 0.5):0.000} ms at {fill:N0} blobs (ratio {Percentile(largeSorted, 0.5) / Percentile(smallSorted, 0.5):0.000})");

            // 3. Pull: one stream reads the whole large mailbox in maximum pages; then a 10,000-blob catch-up.
            var reader = await rig.OpenAsync(large with { DeviceId = RandomNumberGenerator.GetBytes(16) }, cancellationToken);
            await PullAllAsync(reader, 0, 10_000, cancellationToken); // warm-up
            // One page at a time (request, wait, next request) as the baseline, then pages pipelined on the same stream.
            var serialCpu = CpuTime();
            var (serialPulled, serialElapsed) = await PullAllAsync(reader, 0, long.MaxValue, cancellationToken);
            serialCpu = CpuTime() - serialCpu;
            Console.WriteLine($"pull: {pullRounds} pipelined round(s) starting");
            var pullCpu = CpuTime();
            long pulled = 0;
            var pullElapsed = TimeSpan.Zero;
            for (var round = 0; round < pullRounds; round++)
            {
                var (roundBlobs, roundElapsed) = await PullPipelinedAsync(reader, 0, long.MaxValue, cancellationToken);
                pulled += roundBlobs;
                pullElapsed += roundElapsed;
            }
            pullCpu = CpuTime() - pullCpu;
            results["pullSerialCpuMicrosPerBlob"] = Math.Round(serialCpu.TotalMicroseconds / serialPulled, 2);
            results["pullCpuMicrosPerBlob"] = Math.Round(pullCpu.TotalMicroseconds / pulled, 2);
            results["loadAverage"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
            var max = reader.OpenResult!.MaxCursor;
            var (caught, catchUp) = await PullPipelinedAsync(reader, max > 10_000 ? max - 10_000 : 0, 10_000, cancellationToken);
            results["pullSerialBlobsPerSecond"] = Math.Round(serialPulled / serialElapsed.TotalSeconds);
            results["pullBlobsPerSecond"] = Math.Round(pulled / pullElapsed.TotalSeconds);
            results["catchUp10kSeconds"] = Math.Round(catchUp.TotalSeconds, 3);
            // The same-run baseline of the pipelined pull is the one-page-at-a-time pull on the same stream.
            var pullRate = pulled / pullElapsed.TotalSeconds;
            results["pullRatioToSerial"] = Math.Round(pullRate / (serialPulled / serialElapsed.TotalSeconds), 2);
            results["pullTargetBlobsPerSecond"] = PullTarget;
            Console.WriteLine($"pull CPU per blob (whole process): one page at a time {serialCpu.TotalMicroseconds / serialPulled:0.00} us, pipelined {pullCpu.TotalMicroseconds / pulled:0.00} us; push CPU {results["pushCpuMicrosPerPush"]} us per push");
            Console.WriteLine($"pull: one page at a time {serialPulled / serialElapsed.TotalSeconds:N0} blobs/s; pipelined (depth {PullDepth}) " +
                $"{pulled:N0} blobs in {pullElapsed.TotalSeconds:0.000} s = {pulled / pullElapsed.TotalSeconds:N0} blobs/s per stream; " +
                $"catch-up of {caught:N0} blobs in {catchUp.TotalSeconds:0.000} s");
            Console.WriteLine($"pull target {PullTarget:N0} blobs/s per stream: {(pullRate >= PullTarget ? "met" : "not met")} ({pullRate / PullTarget:0.00}x the target, " +
                $"{pullRate / (serialPulled / serialElapsed.TotalSeconds):0.00}x one page at a time; load {results["loadAverage"]})");

            foreach (var session in clients.Append(smallSession).Append(largeSession).Append(reader)) await session.DisposeAsync();
            Console.WriteLine(JsonSerializer.Serialize(results));
            return 0;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, true);
        }
    }

    internal static (byte[] MailboxId, byte[] Capability, byte[] DeviceId) NewCredentials() =>
        (RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(16));

    internal static async Task<(double[] LatenciesMs, TimeSpan Elapsed)> PushLoadAsync(List<MailboxSession> sessions, int inFlight, int total, byte[] template,
        CancellationToken cancellationToken)
    {
        var latencies = new ConcurrentBag<double>();
        var next = 0;
        var started = Stopwatch.GetTimestamp();
        var workers = sessions.SelectMany(session => Enumerable.Range(0, inFlight).Select(_ => Task.Run(async () =>
        {
            var blob = (byte[])template.Clone();
            while (Interlocked.Increment(ref next) <= total)
            {
                RandomNumberGenerator.Fill(blob.AsSpan(0, 16)); // a new blob each time (dedup would answer without a write)
                var id = KontinuumP2P.Certs.Hashing.Blake3.Hash(blob);
                var t0 = Stopwatch.GetTimestamp();
                var result = await session.PushAsync(blob, id, 0, cancellationToken);
                latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                if (result.Duplicate) throw new InvalidOperationException("unexpected duplicate");
            }
        }, cancellationToken))).ToArray();
        await Task.WhenAll(workers);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var sorted = latencies.ToArray();
        Array.Sort(sorted);
        return (sorted, elapsed);
    }

    private static async Task FillAsync(MailboxSession session, int count, byte[] template, CancellationToken cancellationToken) =>
        await PushLoadAsync([session], 32, count, template, cancellationToken);

    private static async Task<List<double>> SequentialAsync(MailboxSession session, int count, CancellationToken cancellationToken)
    {
        var latencies = new List<double>(count);
        var blob = RandomNumberGenerator.GetBytes(1024);
        for (var i = 0; i < count; i++)
        {
            RandomNumberGenerator.Fill(blob.AsSpan(0, 16));
            var id = KontinuumP2P.Certs.Hashing.Blake3.Hash(blob);
            var t0 = Stopwatch.GetTimestamp();
            await session.PushAsync(blob, id, 0, cancellationToken);
            latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        return latencies;
    }

    private static async Task<(long Blobs, TimeSpan Elapsed)> PullAllAsync(MailboxSession session, ulong after, long limit, CancellationToken cancellationToken)
    {
        long blobs = 0;
        var started = Stopwatch.GetTimestamp();
        while (blobs < limit)
        {
            var page = await session.PullAsync(after, 0, 0, 0, cancellationToken);
            blobs += page.Blobs.Count;
            if (page.Blobs.Count > 0) after = page.Blobs[^1].Cursor;
            if (!page.HasMore) break;
        }
        return (blobs, Stopwatch.GetElapsedTime(started));
    }

    private const int PullDepth = 3;

    /// <summary>Design §11 / issue #13: durable pushes per second per mailbox node, with p99 ack at that rate at most <see cref="PushTargetP99Ms"/>.</summary>
    internal const int PushTargetRate = 10_000;

    internal const double PushTargetP99Ms = 10;

    /// <summary>Design §11: pulled blobs per second per stream at 1 KiB.</summary>
    private const int PullTarget = 200_000;

    internal static TimeSpan CpuTime()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private static async Task<(long Blobs, TimeSpan Elapsed)> PullPipelinedAsync(MailboxSession session, ulong after, long limit, CancellationToken cancellationToken)
    {
        long blobs = 0;
        var started = Stopwatch.GetTimestamp();
        await foreach (var page in session.PullPagesAsync(after, 0, 0, 0, PullDepth, cancellationToken))
        {
            blobs += page.Blobs.Count;
            if (blobs >= limit) break;
        }
        return (blobs, Stopwatch.GetElapsedTime(started));
    }

    internal static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
