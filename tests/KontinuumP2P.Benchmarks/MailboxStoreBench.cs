using System.Security.Cryptography;
using System.Text.Json;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// The mailbox store alone (no host, no streams) at an offered push rate: the part of the ack tail that is the disk's.
/// Each round runs every page size on a fresh database on the same disk (filled first, so the blob-id index is larger
/// than a group), interleaved so load drifts hit both, and prints the ack latency from each push's due time, each WAL
/// fsync's duration and the process's CPU per push.
/// </summary>
public sealed class MailboxStoreBench : IBench
{
    /// <inheritdoc />
    public string Name => "mailbox-store";

    /// <inheritdoc />
    public string Description =>
        "mailbox store alone, open loop: ack p50/p99 from the due time and WAL fsync p50/p99 per page size, interleaved rounds " +
        "(args: --rate R --seconds T --mailboxes M --fill N --rounds K --page-sizes 4096,1024 --backstop-pages P --restart-pages P --syncs full:bg,full:none --catch-up-passes N --dir PATH)";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var rate = BenchArgs.GetLong(args, "--rate", MailboxBench.PushTargetRate);
        var seconds = BenchArgs.GetLong(args, "--seconds", 5);
        var mailboxes = (int)BenchArgs.GetLong(args, "--mailboxes", 8);
        var fill = (int)BenchArgs.GetLong(args, "--fill", 50_000);
        var backstop = (int)BenchArgs.GetLong(args, "--backstop-pages", 0);
        var restart = (int)BenchArgs.GetLong(args, "--restart-pages", 0);
        var rounds = (int)BenchArgs.GetLong(args, "--rounds", 2);
        var catchUp = (int)BenchArgs.GetLong(args, "--catch-up-passes", 0);
        var sizesIndex = Array.IndexOf(args, "--page-sizes");
        var pageSizes = (sizesIndex < 0 || sizesIndex + 1 >= args.Length ? "4096,1024" : args[sizesIndex + 1]).Split(',').Select(int.Parse).ToArray();
        var dirIndex = Array.IndexOf(args, "--dir");
        var root = dirIndex < 0 || dirIndex + 1 >= args.Length ? Path.GetTempPath() : args[dirIndex + 1];
        // Each "WAL:DATABASE" item: the WAL flush by fsync (full) or fdatasync (data); the database synced by the background
        // task after each passive checkpoint (bg) or only by the checkpoint that restarts the WAL (none, as before 2026-12-06).
        var syncsIndex = Array.IndexOf(args, "--syncs");
        var syncs = (syncsIndex < 0 || syncsIndex + 1 >= args.Length ? "full:bg" : args[syncsIndex + 1]).Split(',');
        if (syncs.Any(s => s.Split(':') is not [("full" or "data"), ("bg" or "none")]))
            throw new ArgumentException("--syncs: items are full|data:bg|none");
        var p99s = pageSizes.SelectMany(size => syncs.Select(sync => (size, sync))).ToDictionary(v => v, _ => new List<double>());
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (pageSize, sync) in p99s.Keys)
            {
                var directory = Path.Combine(root, "kp-mbstore-" + Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(directory);
                try
                {
                    var result = await RunOnceAsync(Path.Combine(directory, "m.db"), pageSize, backstop, restart, sync, catchUp, rate, seconds, mailboxes, fill, cancellationToken);
                    result["round"] = round;
                    p99s[(pageSize, sync)].Add((double)result["p99Ms"]);
                    Console.WriteLine(JsonSerializer.Serialize(result));
                }
                finally
                {
                    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                    Directory.Delete(directory, true);
                }
            }
        }
        foreach (var ((pageSize, sync), list) in p99s)
        {
            list.Sort();
            Console.WriteLine($"{pageSize}-byte pages, syncs {sync}: ack p99 at {rate:N0}/s over {rounds} rounds, median {list[list.Count / 2]:0.00} ms " +
                $"(min {list[0]:0.00}, max {list[^1]:0.00}); target <= {MailboxBench.PushTargetP99Ms} ms");
        }
        return 0;
    }

    /// <summary>Quantile <paramref name="q"/> (1 = the maximum) of sorted durations, in ms, by the bench's one percentile rule.</summary>
    internal static double Quantile(TimeSpan[] sorted, double q) =>
        sorted.Length == 0 ? 0 : MailboxBench.Percentile(Array.ConvertAll(sorted, t => t.TotalMilliseconds), q);

    /// <summary>The WAL header's checkpoint sequence number, which SQLite bumps each time the WAL restarts from its start.</summary>
    internal static long WalResets(string database)
    {
        using var wal = new FileStream(database + "-wal", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Span<byte> header = stackalloc byte[16];
        wal.ReadExactly(header);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
    }

    private static async Task<Dictionary<string, object>> RunOnceAsync(string path, int pageSize, int backstop, int restart, string sync, int catchUp, long rate, long seconds,
        int mailboxes, int fill, CancellationToken cancellationToken)
    {
        var options = new MailboxStoreOptions
        {
            DatabasePath = path, PageSize = pageSize, MaxMailboxBlobs = 10_000_000, MaxMailboxBytes = 64L << 30,
            WalDataSync = sync.Split(':')[0] == "data", BackgroundDatabaseSync = sync.Split(':')[1] == "bg", RestartCatchUpPasses = catchUp,
        };
        if (backstop > 0) options = options with { CheckpointBackstopPages = backstop };
        if (restart > 0) options = options with { CheckpointRestartPages = restart };
        await using var store = await MailboxStore.OpenAsync(options,
            cancellationToken: cancellationToken);
        var handles = new MailboxHandle[mailboxes];
        for (var i = 0; i < mailboxes; i++)
        {
            handles[i] = (await store.OpenMailboxAsync(RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32),
                RandomNumberGenerator.GetBytes(16), ReadOnlyMemory<byte>.Empty, cancellationToken)).Handle;
        }
        var template = RandomNumberGenerator.GetBytes(1024);
        // The fill: 64 pushes in flight, spread over the mailboxes like the open loop's.
        var filled = 0;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(async worker =>
        {
            while (Interlocked.Increment(ref filled) <= fill)
            {
                var blob = (byte[])template.Clone();
                RandomNumberGenerator.Fill(blob.AsSpan(0, 16));
                await store.PushAsync(handles[worker % mailboxes], KontinuumP2P.Certs.Hashing.Blake3.Hash(blob), blob, TimeSpan.Zero, cancellationToken);
            }
        }));
        var checkpoints = store.BackgroundCheckpoints;
        var walResets = WalResets(path);
        store.FlushTimes.Start();
        store.CommitTimes.Start();
        store.WriterCheckpointTimes.Start();
        store.Stalls.Start();
        store.RestartCommitTimes.Start();
        var open = await MailboxOpenLoop.RunAsync((i, blob, id) => store.PushAsync(handles[i % mailboxes], id, blob, TimeSpan.Zero, cancellationToken),
            rate, TimeSpan.FromSeconds(seconds), template, MailboxBench.CpuTime, cancellationToken);
        var flushes = store.FlushTimes.Take();
        var commits = store.CommitTimes.Take();
        var writerCheckpoints = store.WriterCheckpointTimes.Take();
        var steps = string.Join("; ", store.Stalls.Take().GroupBy(e => e.Kind).Select(g =>
            $"{g.Key} {g.Count()}x sum {g.Sum(e => e.Elapsed.TotalMilliseconds):0} ms p50 {Quantile(g.Select(e => e.Elapsed).Order().ToArray(), 0.5):0.0}"));
        var restartCommits = store.RestartCommitTimes.Take();
        walResets = WalResets(path) - walResets;
        double FlushMs(double q) => Quantile(flushes, q);
        return new Dictionary<string, object>
        {
            ["bench"] = "mailbox-store", ["pageSize"] = store.PageSize, ["backstopPages"] = store.Options.CheckpointBackstopPages, ["restartPages"] = store.Options.CheckpointRestartPages, ["fill"] = fill, ["mailboxes"] = mailboxes, ["rate"] = rate, ["syncs"] = sync, ["stepsOf2MsOrMore"] = steps,
            ["writerCheckpointP50Ms"] = Math.Round(Quantile(writerCheckpoints, 0.5), 3), ["writerCheckpointMaxMs"] = Math.Round(Quantile(writerCheckpoints, 1), 3),
            ["writerCheckpointSumMs"] = Math.Round(writerCheckpoints.Sum(t => t.TotalMilliseconds)), ["restartCommitP50Ms"] = Math.Round(Quantile(restartCommits, 0.5), 3),
            ["achievedPerSecond"] = Math.Round(open.AchievedRate),
            ["p50Ms"] = Math.Round(MailboxBench.Percentile(open.SortedLatenciesMs, 0.5), 3),
            ["p99Ms"] = Math.Round(MailboxBench.Percentile(open.SortedLatenciesMs, 0.99), 3),
            ["p999Ms"] = Math.Round(MailboxBench.Percentile(open.SortedLatenciesMs, 0.999), 3),
            ["maxSendLagMs"] = Math.Round(open.MaxSendLagMs, 1),
            ["cpuMicrosPerPush"] = Math.Round(open.Cpu.TotalMicroseconds / open.Pushes, 1),
            ["walFlushes"] = flushes.Length, ["walFlushP50Ms"] = Math.Round(FlushMs(0.5), 3), ["walFlushP99Ms"] = Math.Round(FlushMs(0.99), 3),
            ["walFlushMaxMs"] = flushes.Length == 0 ? 0 : Math.Round(flushes[^1].TotalMilliseconds, 3),
            ["commits"] = commits.Length, ["commitP99Ms"] = Math.Round(Quantile(commits, 0.99), 3),
            ["commitMaxMs"] = Math.Round(Quantile(commits, 1), 3), ["commitsOver5Ms"] = commits.Count(t => t.TotalMilliseconds > 5),
            ["checkpoints"] = store.BackgroundCheckpoints - checkpoints, ["writerCheckpoints"] = store.WriterCheckpoints, ["walResets"] = walResets,
            ["loadAverage"] = File.ReadAllText("/proc/loadavg").Split(' ')[0],
        };
    }
}
