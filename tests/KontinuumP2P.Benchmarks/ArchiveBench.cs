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
/// the same number of bytes with one fsync; and restore (manifest chain, every pack read and BLAKE3-checked, every
/// blob checked against its id) against a plain sequential read of a file of that size. Targets: both ≥ 50 %.
/// Usage: <c>archive [--mib N] [--blob-kib K] [--pack-mib P] [--rounds R] [--dir PATH]</c>.
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
        int mib = 256, blobKib = 64, packMib = 16, rounds = 3;
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
        Console.WriteLine($"{blobs.Count} blobs of {blobKib} KiB ({total >> 20} MiB), packs of {packMib} MiB, {rounds} rounds, "
            + (warm ? "reads from the page cache (--warm)" : "reads from the disk (both reads' files evicted from the page cache first)"));
        Console.WriteLine($"{"round",5} {"seq write MB/s",15} {"pack+store MB/s",16} {"ratio",6} {"seq read MB/s",14} {"restore MB/s",13} {"ratio",6}");
        var results = new List<(double Write, double Store, double Read, double Restore)>();
        // CPU time of this process per byte, per phase (all threads): unlike the rates, it barely depends on how busy
        // the machine is, so it shows what each path costs.
        var cpu = new List<(double Write, double Store, double Read, double Restore)>();
        for (var round = 0; round < rounds; round++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(root ?? Path.GetTempPath(), $"kp-archive-bench-{Environment.ProcessId}-{round}")).FullName;
            try
            {
                var plain = Path.Combine(dir, "sequential.bin");
                var (writeTime, writeCpu) = await TimeAsync(() => SequentialWriteAsync(plain, blobs, cancellationToken));
                var write = Rate(total, writeTime);
                var (storeTime, storeCpu) = await TimeAsync(async () =>
                {
                    using var state = new PusherStateStore(Path.Combine(dir, "state.db"));
                    await using var sink = new DirectorySink(Path.Combine(dir, "sink"));
                    using var pusher = new ArchivePusher(source, [sink], state, new ArchivePusherOptions { TargetPackBytes = (long)packMib << 20 }, TimeProvider.System);
                    await pusher.RunOnceAsync(flush: true, cancellationToken);
                    if (state.Get(mailboxId)?.ArchivedUpTo != (ulong)blobs.Count) throw new InvalidOperationException("pusher did not archive every blob");
                });
                var store = Rate(total, storeTime);
                // The disk's read rate is a read from the disk: every file both reads touch was fsynced, so evicting its
                // clean pages makes the baseline and the restore read the same medium (--warm keeps the page cache).
                if (!warm) EvictFromPageCache(dir);
                var (readTime, readCpu) = await TimeAsync(() => SequentialReadAsync(plain, cancellationToken));
                var read = Rate(total, readTime);
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
                var restore = Rate(total, restoreTime);
                results.Add((write, store, read, restore));
                cpu.Add((NsPerByte(writeCpu, total), NsPerByte(storeCpu, total), NsPerByte(readCpu, total), NsPerByte(restoreCpu, total)));
                Console.WriteLine($"{round,5} {write,15:F0} {store,16:F0} {store / write,6:P0} {read,14:F0} {restore,13:F0} {restore / read,6:P0}   CPU ns/B: write {cpu[^1].Write:F2} pack+store {cpu[^1].Store:F2} read {cpu[^1].Read:F2} restore {cpu[^1].Restore:F2}");
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        double Median(Func<(double Write, double Store, double Read, double Restore), double> f)
        {
            var sorted = results.Select(f).Order().ToList();
            return sorted[sorted.Count / 2];
        }
        var summary = new
        {
            bench = "archive", mib = total >> 20, blobKib, packMib, rounds,
            seqWriteMBps = Median(r => r.Write), packStoreMBps = Median(r => r.Store), storeRatio = Median(r => r.Store / r.Write),
            seqReadMBps = Median(r => r.Read), restoreMBps = Median(r => r.Restore), restoreRatio = Median(r => r.Restore / r.Read),
            cpuNsPerByte = new
            {
                seqWrite = MedianOf(cpu.Select(c => c.Write)), packStore = MedianOf(cpu.Select(c => c.Store)),
                seqRead = MedianOf(cpu.Select(c => c.Read)), restore = MedianOf(cpu.Select(c => c.Restore)),
            },
            reads = warm ? "page cache" : "disk",
            loadAverage = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?",
        };
        Console.WriteLine($"median: pack+store {summary.storeRatio:P0} of sequential write (target ≥ 50 %), restore {summary.restoreRatio:P0} of sequential read (target ≥ 50 %)");
        Console.WriteLine(JsonSerializer.Serialize(summary));
        return 0;
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

    private static async Task SequentialReadAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = new byte[16 << 20];
        while (await stream.ReadAsync(buffer, cancellationToken) > 0)
        {
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
