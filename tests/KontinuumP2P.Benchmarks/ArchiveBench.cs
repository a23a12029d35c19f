using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Restore;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// The archive's two bulk paths against the disk they run on, in the same run and folder:
/// pack + store (the real <see cref="ArchivePusher"/>: pack, seal the header, BLAKE3, write to <c>dir:</c> with
/// fsync + rename + folder fsync, read back and re-hash, manifest, SQLite state) against a plain sequential write of
/// the same number of bytes with one fsync; and restore (manifest chain, every pack read, every blob checked against
/// its id) against a plain sequential read of the same pack files with the same read size. Each subject runs between
/// two runs of its baseline (every file evicted from the page cache before each read), and the ratio of a round is the
/// subject against the mean of its two baselines, so the disk's drift between rounds cancels out; the median of the
/// rounds' ratios is reported with its min and max. One warm-up round (tier-0 code, first allocations) is not counted.
/// Targets: both ≥ 50 %.
/// Usage: <c>archive [--mib N] [--blob-kib K] [--pack-mib P] [--rounds R] [--dir PATH] [--warm]</c>.
/// </summary>
public sealed class ArchiveBench : IBench
{
    /// <inheritdoc />
    public string Name => "archive";

    /// <inheritdoc />
    public string Description => "archive pack+store to dir: vs sequential write, restore vs sequential read, same disk, same run";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        int mib = 256, blobKib = 64, packMib = 16, rounds = 9;
        string? root = null;
        var warm = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--mib" when i + 1 < args.Length: mib = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--blob-kib" when i + 1 < args.Length: blobKib = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--pack-mib" when i + 1 < args.Length: packMib = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--rounds" when i + 1 < args.Length: rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dir" when i + 1 < args.Length: root = args[++i]; break;
                case "--warm": warm = true; break;
                default:
                    Console.Error.WriteLine($"unknown argument '{args[i]}'");
                    return 2;
            }
        }
        var random = new Random(42);
        var archiveKey = new byte[32];
        random.NextBytes(archiveKey);
        var mailboxId = new byte[32];
        random.NextBytes(mailboxId);
        var blobs = new List<ArchiveBlob>();
        long total = 0;
        for (ulong cursor = 1; total < (long)mib << 20; cursor++)
        {
            var data = new byte[blobKib * 1024];
            random.NextBytes(data);
            var id = KontinuumP2P.Certs.Hashing.Blake3.Hash(data);
            blobs.Add(new ArchiveBlob(cursor, id, data));
            total += data.Length;
        }
        var source = new MemorySource(new ArchiveMailbox(mailboxId, archiveKey), blobs);
        Console.WriteLine($"{blobs.Count} blobs of {blobKib} KiB ({total >> 20} MiB), packs of {packMib} MiB, {rounds} rounds after one warm-up round, "
            + (warm ? "reads from the page cache (--warm)" : "reads from the disk (every file evicted from the page cache before each read)"));
        Console.WriteLine("each round: seq write, pack+store, seq write; seq read of the pack files, restore, seq read again; a ratio is the subject against the mean of its two baselines");
        Console.WriteLine($"{"round",5} {"seq write MB/s",18} {"pack+store MB/s",16} {"ratio",6} {"seq read MB/s",18} {"restore MB/s",13} {"ratio",6}");
        var results = new List<Round>();
        for (var round = -1; round < rounds; round++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(root ?? Path.GetTempPath(), $"kp-archive-bench-{Environment.ProcessId}-{round + 1}")).FullName;
            try
            {
                var r = await RunRoundAsync(dir, source, blobs, total, archiveKey, mailboxId, packMib, warm, cancellationToken);
                var label = round < 0 ? "warm" : round.ToString(CultureInfo.InvariantCulture);
                Console.WriteLine($"{label,5} {r.WriteA,8:F0} / {r.WriteB,-7:F0} {r.Store,16:F0} {r.StoreRatio,6:P0} {r.ReadA,8:F0} / {r.ReadB,-7:F0} {r.Restore,13:F0} {r.RestoreRatio,6:P0}"
                    + $"   CPU ns/B: write {r.CpuWrite:F2} pack+store {r.CpuStore:F2} read {r.CpuRead:F2} restore {r.CpuRestore:F2}");
                if (round >= 0) results.Add(r);
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        var summary = new
        {
            bench = "archive", mib = total >> 20, blobKib, packMib, rounds,
            storeRatio = Spread(results.Select(r => r.StoreRatio)), restoreRatio = Spread(results.Select(r => r.RestoreRatio)),
            // What the disk itself did: every baseline of every round (two per round), and how far a round's two differ.
            seqWriteMBps = Spread(results.SelectMany(r => new[] { r.WriteA, r.WriteB })),
            seqReadMBps = Spread(results.SelectMany(r => new[] { r.ReadA, r.ReadB })),
            writeDriftInRound = Spread(results.Select(r => Math.Abs(r.WriteA - r.WriteB) / ((r.WriteA + r.WriteB) / 2))),
            readDriftInRound = Spread(results.Select(r => Math.Abs(r.ReadA - r.ReadB) / ((r.ReadA + r.ReadB) / 2))),
            packStoreMBps = Spread(results.Select(r => r.Store)), restoreMBps = Spread(results.Select(r => r.Restore)),
            cpuNsPerByte = new
            {
                seqWrite = MedianOf(results.Select(r => r.CpuWrite)), packStore = MedianOf(results.Select(r => r.CpuStore)),
                seqRead = MedianOf(results.Select(r => r.CpuRead)), restore = MedianOf(results.Select(r => r.CpuRestore)),
            },
            reads = warm ? "page cache" : "disk",
            loadAverage = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?",
        };
        Console.WriteLine($"pack+store: median {summary.storeRatio.Median:P0} of sequential write (min {summary.storeRatio.Min:P0}, max {summary.storeRatio.Max:P0}; target ≥ 50 %)");
        Console.WriteLine($"restore:    median {summary.restoreRatio.Median:P0} of sequential read (min {summary.restoreRatio.Min:P0}, max {summary.restoreRatio.Max:P0}; target ≥ 50 %)");
        Console.WriteLine($"disk: seq write {summary.seqWriteMBps.Min:F0}–{summary.seqWriteMBps.Max:F0} MB/s, seq read {summary.seqReadMBps.Min:F0}–{summary.seqReadMBps.Max:F0} MB/s over the run; "
            + $"within a round the two baselines differ by a median {summary.writeDriftInRound.Median:P0} (write) and {summary.readDriftInRound.Median:P0} (read)");
        Console.WriteLine(JsonSerializer.Serialize(summary));
        return 0;
    }

    private sealed record Round(double WriteA, double WriteB, double Store, double StoreRatio, double ReadA, double ReadB, double Restore, double RestoreRatio,
        double CpuWrite, double CpuStore, double CpuRead, double CpuRestore);

    private sealed record Stats(double Median, double Min, double Max);

    private static Stats Spread(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return new Stats(sorted[sorted.Count / 2], sorted[0], sorted[^1]);
    }

    // One round, each subject between two runs of its baseline so that a disk whose rate drifts moves both alike.
    private static async Task<Round> RunRoundAsync(string dir, MemorySource source, List<ArchiveBlob> blobs, long total, byte[] archiveKey, byte[] mailboxId,
        int packMib, bool warm, CancellationToken cancellationToken)
    {
        var (writeTimeA, writeCpuA) = await TimeAsync(() => SequentialWriteAsync(Path.Combine(dir, "sequential-a.bin"), blobs, cancellationToken));
        var (storeTime, storeCpu) = await TimeAsync(async () =>
        {
            using var state = new PusherStateStore(Path.Combine(dir, "state.db"));
            await using var sink = new DirectorySink(Path.Combine(dir, "sink"));
            using var pusher = new ArchivePusher(source, [sink], state, new ArchivePusherOptions { TargetPackBytes = (long)packMib << 20 }, TimeProvider.System);
            await pusher.RunOnceAsync(flush: true, cancellationToken);
            if (state.Get(mailboxId)?.ArchivedUpTo != (ulong)blobs.Count) throw new InvalidOperationException("pusher did not archive every blob");
        });
        var (writeTimeB, writeCpuB) = await TimeAsync(() => SequentialWriteAsync(Path.Combine(dir, "sequential-b.bin"), blobs, cancellationToken));
        // The read baseline reads the very pack files restore reads, in the order they were written, with the same read
        // size; every file was fsynced, so evicting its clean pages makes each read come from the disk (--warm: page cache).
        var packs = new DirectoryInfo(Path.Combine(dir, "sink", "p")).EnumerateFiles("*", SearchOption.AllDirectories).OrderBy(f => f.LastWriteTimeUtc).ToList();
        var packBytes = packs.Sum(f => f.Length);
        if (!warm) EvictFromPageCache(dir);
        var (readTimeA, readCpuA) = await TimeAsync(() => SequentialReadAsync(packs, cancellationToken));
        if (!warm) EvictFromPageCache(dir);
        long restored = 0;
        var (restoreTime, restoreCpu) = await TimeAsync(async () =>
        {
            await using var sink = new DirectorySink(Path.Combine(dir, "sink"));
            var report = await ArchiveRestorer.RestoreMailboxAsync([sink], archiveKey, (b, _) =>
            {
                restored += b.Sealed.Length;
                return ValueTask.CompletedTask;
            }, cancellationToken);
            if (report.Blobs != blobs.Count || restored != total) throw new InvalidOperationException("restore did not return every blob");
        });
        if (!warm) EvictFromPageCache(dir);
        var (readTimeB, readCpuB) = await TimeAsync(() => SequentialReadAsync(packs, cancellationToken));
        var write = Rate(total, (writeTimeA + writeTimeB) / 2);
        var store = Rate(total, storeTime);
        var read = Rate(packBytes, (readTimeA + readTimeB) / 2);
        var restore = Rate(packBytes, restoreTime);
        return new Round(Rate(total, writeTimeA), Rate(total, writeTimeB), store, store / write, Rate(packBytes, readTimeA), Rate(packBytes, readTimeB), restore, restore / read,
            NsPerByte((writeCpuA + writeCpuB) / 2, total), NsPerByte(storeCpu, total), NsPerByte((readCpuA + readCpuB) / 2, packBytes), NsPerByte(restoreCpu, packBytes));
    }

    private static double Rate(long bytes, TimeSpan elapsed) => bytes / 1e6 / elapsed.TotalSeconds;

    private static double NsPerByte(TimeSpan cpu, long bytes) => cpu.TotalNanoseconds / bytes;

    private static double MedianOf(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    // Wall time and this process's CPU time (every thread) spent on the work.
    private static async Task<(TimeSpan Elapsed, TimeSpan Cpu)> TimeAsync(Func<Task> work)
    {
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        await work();
        var elapsed = watch.Elapsed;
        process.Refresh();
        return (elapsed, process.TotalProcessorTime - cpuBefore);
    }

    // The same bytes as the blobs, written sequentially in 1 MiB writes, fsynced once at the end.
    private static async Task SequentialWriteAsync(string path, List<ArchiveBlob> blobs, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.None);
        foreach (var blob in blobs) await stream.WriteAsync(blob.Data, cancellationToken);
        await stream.FlushAsync(cancellationToken);
        stream.Flush(flushToDisk: true);
    }

    // Each pack file read front to back in the chunk size restore's dir: sink reads with, into one buffer.
    private static async Task SequentialReadAsync(List<FileInfo> files, CancellationToken cancellationToken)
    {
        var buffer = new byte[DirectorySink.ReadChunkBytes];
        foreach (var file in files)
        {
            using var handle = File.OpenHandle(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan | FileOptions.Asynchronous);
            long offset = 0;
            int n;
            while ((n = await RandomAccess.ReadAsync(handle, buffer, offset, cancellationToken)) > 0) offset += n;
        }
    }

    // posix_fadvise(DONTNEED) on every file under the folder: clean pages leave the page cache (Linux; elsewhere the
    // reads stay warm and the output says nothing false, since the flag is only a hint).
    private static void EvictFromPageCache(string folder)
    {
        if (!OperatingSystem.IsLinux()) return;
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var result = Advise((int)handle.DangerousGetHandle(), 0, 0, PosixFadviseDontNeed);
            if (result != 0) throw new IOException($"posix_fadvise({file}) failed: {result}");
        }
    }

    private const int PosixFadviseDontNeed = 4;

    [DllImport("libc", EntryPoint = "posix_fadvise")]
    private static extern int Advise(int fd, long offset, long length, int advice);

    private sealed class MemorySource(ArchiveMailbox mailbox, List<ArchiveBlob> blobs) : IArchiveSource
    {
        public ValueTask<IReadOnlyList<ArchiveMailbox>> ListMailboxesAsync(CancellationToken cancellationToken) =>
            ValueTask.FromResult<IReadOnlyList<ArchiveMailbox>>([mailbox]);

        public ValueTask<IReadOnlyList<ArchiveBlob>> ReadAfterAsync(ReadOnlyMemory<byte> mailboxId, ulong afterCursor, int maxBlobs, long maxBytes,
            CancellationToken cancellationToken)
        {
            var page = new List<ArchiveBlob>();
            long bytes = 0;
            for (var i = (int)afterCursor; i < blobs.Count && page.Count < maxBlobs && (page.Count == 0 || bytes + blobs[i].Data.Length <= maxBytes); i++)
            {
                page.Add(blobs[i]);
                bytes += blobs[i].Data.Length;
            }
            return ValueTask.FromResult<IReadOnlyList<ArchiveBlob>>(page);
        }
    }
}
