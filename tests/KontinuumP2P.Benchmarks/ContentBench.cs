using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// A large attachment end to end over TCP loopback: upload (encrypt, hash, put to a mailbox node's content store with
/// fsync per chunk) and download (fetch, verify each chunk, decrypt, write), each in MB/s of plaintext against the
/// single-stream throughput of the same two hosts measured in the same run; and the receiver's verification cost per
/// chunk (BLAKE3 of the ciphertext, then XChaCha20-Poly1305 open).
/// </summary>
public sealed partial class ContentBench : IBench
{
    private const string SinkProtocol = "/kontinuum/bench-sink/1.0.0";

    /// <summary>The download's target share of the raw stream (issue #17).</summary>
    private const double DownloadTarget = 0.70;

    /// <inheritdoc />
    public string Name => "content";

    /// <inheritdoc />
    public string Description => "100 MiB attachment upload/download over TCP loopback vs one raw stream, the CPU bound, verify cost per chunk (args: --bytes N, --chunk N, --profile-downloads N, --profile-raw N, --profile-gate, --ab-rounds N, --ab-drop-rounds N (default 1), --warm-downloads N (default 12), --rounds N: interleaved raw-stream and download pairs, median ratio, default 5; --variants SxDxB[:spec-window],... --variant-rounds N: download configurations (streams x fetches in flight x chunks per fetch; on a host with default yamux windows) compared in one run, with how busy the cores were and the process's demand for cores)";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var size = BenchArgs.GetLong(args, "--bytes", 100L << 20);
        var chunkSize = (int)BenchArgs.GetLong(args, "--chunk", ContentLimits.DefaultChunkSize);
        // Extra downloads after the measurements, between two stderr lines, for a profiler to attach to (scripts/profile-content.sh).
        var profileDownloads = (int)BenchArgs.GetLong(args, "--profile-downloads", 0);
        // Raw streams of the same size before those, between two stderr lines of their own (the same tools on the baseline).
        var profileRaw = (int)BenchArgs.GetLong(args, "--profile-raw", 0);
        // Each profiled phase starts only once a line arrives on stdin, so a tool attached after its start line sees all of it.
        var profileGate = args.Contains("--profile-gate");
        // Rounds of the keystream/AEAD comparison, each ABBA (two downloads of each kind).
        var abRounds = (int)Math.Clamp(BenchArgs.GetLong(args, "--ab-rounds", 1), 1, 20);
        var rounds = (int)Math.Clamp(BenchArgs.GetLong(args, "--rounds", 5), 1, 50);
        // Rounds of the page-drop comparison (ABBA), 0 to skip it.
        var dropRounds = (int)Math.Clamp(BenchArgs.GetLong(args, "--ab-drop-rounds", 1), 0, 20);
        var warmDownloads = (int)Math.Clamp(BenchArgs.GetLong(args, "--warm-downloads", 12), 1, 50);
        var directory = Path.Combine(Path.GetTempPath(), "kp-content-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            using var serverIdentity = Ed25519Identity.Generate();
            using var clientIdentity = Ed25519Identity.Generate();
            await using var server = new PeerHost(new PeerHostOptions
            {
                Identity = serverIdentity,
                Transports = [new TcpTransport()],
                ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            });
            server.SetHandler(SinkProtocol, StreamThroughputBench.SinkAsync);
            await server.StartAsync(cancellationToken);
            await using var mailbox = await MailboxServer.StartAsync(server, new MailboxServerOptions
            {
                Store = new MailboxStoreOptions { DatabasePath = Path.Combine(directory, "mailbox.db") },
            }, cancellationToken: cancellationToken);
            await using var content = ContentServer.Start(server, new ContentServerOptions { Store = new ContentStoreOptions { Directory = Path.Combine(directory, "content") } },
                mailbox.Store);
            await using var client = new PeerHost(new PeerHostOptions
            {
                Identity = clientIdentity,
                Transports = [new TcpTransport()],
                YamuxOptions = new KontinuumP2P.Net.Muxing.YamuxOptions { InitialStreamWindow = 4 << 20 },
            });
            await client.StartAsync(cancellationToken);
            var connection = await client.DialAsync(server.ListenAddresses[0].WithPeerId(server.PeerId), cancellationToken);

            var file = Path.Combine(directory, "attachment.bin");
            WriteRandomFile(file, size);
            using var keys = new GroupKeys(GroupSecret.Generate());
            var slot = keys.ForSlot("bench");
            var holder = new ContentHolder(server.PeerId, [server.ListenAddresses[0]], slot, new byte[16]);
            var contentClient = new ContentClient(client, new ContentClientOptions { ChunkSize = chunkSize });

            // Warm-up of both paths (JIT, windows) on a small file, then the baseline and the measured transfers.
            var warm = Path.Combine(directory, "warm.bin");
            WriteRandomFile(warm, 8L << 20);
            var warmUp = await contentClient.UploadAsync(warm, [holder], cancellationToken: cancellationToken);
            // Warm-up downloads (--warm-downloads N, default 12; 1 before the eighth session) let the fetch path's methods reach their optimised tier
            // before the first measured download (a tier-up waits for 30 calls and then 100 ms; one 8 MiB download takes less).
            for (var w = 0; w < warmDownloads; w++)
                await contentClient.DownloadAsync(warmUp.Reference, [holder], warm + ".out", cancellationToken: cancellationToken);
            await SendToSinkAsync(connection, 32L << 20, cancellationToken);

            // CPU of this process (both hosts, the server and the client) per MiB moved, next to the wall clock.
            var process = Process.GetCurrentProcess();
            var cpu = process.TotalProcessorTime;
            var kernel = process.PrivilegedProcessorTime;
            var kernelMs = 0.0;
            double CpuMsPerMib()
            {
                process.Refresh();
                var used = process.TotalProcessorTime - cpu;
                cpu = process.TotalProcessorTime;
                // The kernel's part (sockets, page cache writes and reads, fsync submission) of the same interval.
                kernelMs = (process.PrivilegedProcessorTime - kernel).TotalMilliseconds / (size / (double)(1 << 20));
                kernel = process.PrivilegedProcessorTime;
                return used.TotalMilliseconds / (size / (double)(1 << 20));
            }
            var clock = Stopwatch.StartNew();
            await SendToSinkAsync(connection, size, cancellationToken);
            var baselineSeconds = clock.Elapsed.TotalSeconds;
            var baselineCpu = CpuMsPerMib();
            var baselineKernel = kernelMs;
            clock.Restart();
            var upload = await contentClient.UploadAsync(file, [holder], cancellationToken: cancellationToken);
            var uploadSeconds = clock.Elapsed.TotalSeconds;
            var uploadCpu = CpuMsPerMib();
            if (BenchArgs.GetString(args, "--variants") is { } variantList)
            {
                await RunVariantsAsync(variantList, (int)Math.Clamp(BenchArgs.GetLong(args, "--variant-rounds", 5), 1, 50), client, connection,
                    upload.Reference, holder, chunkSize, directory, size, cancellationToken);
                return 0;
            }
            var output = Path.Combine(directory, "received.bin");
            clock.Restart();
            var download = await contentClient.DownloadAsync(upload.Reference, [holder], output, cancellationToken: cancellationToken);
            var downloadSeconds = clock.Elapsed.TotalSeconds;
            var downloadCpu = CpuMsPerMib();
            var downloadKernel = kernelMs;
            // The same download with deeper pipelining (larger ranges, more of them in flight), in the same run.
            var deep = new ContentClient(client, new ContentClientOptions { ChunkSize = chunkSize, StreamsPerHolder = 4, FetchBatch = 32, FetchDepth = 4 });
            var deepOutput = Path.Combine(directory, "received-deep.bin");
            clock.Restart();
            var deepDownload = await deep.DownloadAsync(upload.Reference, [holder], deepOutput, cancellationToken: cancellationToken);
            var deepSeconds = clock.Elapsed.TotalSeconds;
            var deepCpu = CpuMsPerMib();
            if (deepDownload.ChunksFetched != upload.Reference.ChunkCount) throw new InvalidDataException("the deep download did not fetch every chunk");
            // The keystream open against the AEAD open (the fifth session's path), rounds of two downloads each in the order ABBA (so
            // neither side always follows the other's writeback), each to a new file deleted outside the measured intervals.
            var aeadClient = new ContentClient(client, new ContentClientOptions { ChunkSize = chunkSize, KeystreamOpen = false });
            var (keystreamCpu, aeadCpu, keystreamSeconds, aeadSeconds) = (0.0, 0.0, 0.0, 0.0);
            var abRun = 0;
            var abDownloads = 2 * abRounds;
            foreach (var aead in Enumerable.Repeat(new[] { false, true, true, false }, abRounds).SelectMany(order => order))
            {
                clock.Restart();
                await (aead ? aeadClient : contentClient).DownloadAsync(upload.Reference, [holder], Path.Combine(directory, $"ab-{abRun++}.bin"),
                    cancellationToken: cancellationToken);
                var seconds = clock.Elapsed.TotalSeconds;
                var used = CpuMsPerMib();
                if (aead) (aeadCpu, aeadSeconds) = (aeadCpu + used / abDownloads, aeadSeconds + seconds / abDownloads);
                else (keystreamCpu, keystreamSeconds) = (keystreamCpu + used / abDownloads, keystreamSeconds + seconds / abDownloads);
                // Freeing the file's pages and blocks is charged to no download: the CPU count restarts after it.
                File.Delete(Path.Combine(directory, $"ab-{abRun - 1}.bin"));
                CpuMsPerMib();
            }
            // Dropping the partial file's flushed pages against keeping them cached, ABBA. Every file is kept until the
            // comparison ends, as a receiver keeps what it downloaded: without the drop each download takes pages the
            // kernel has not handed out recently.
            var keepClient = new ContentClient(client, new ContentClientOptions { ChunkSize = chunkSize, DropWrittenPages = false });
            var (dropCpu, keepCpu, dropSeconds, keepSeconds, dropKernel, keepKernel) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
            var dropFiles = new List<string>();
            foreach (var keep in Enumerable.Repeat(new[] { false, true, true, false }, dropRounds).SelectMany(order => order))
            {
                var path = Path.Combine(directory, $"drop-{dropFiles.Count}.bin");
                dropFiles.Add(path);
                clock.Restart();
                await (keep ? keepClient : contentClient).DownloadAsync(upload.Reference, [holder], path, cancellationToken: cancellationToken);
                var seconds = clock.Elapsed.TotalSeconds;
                var used = CpuMsPerMib() / (2 * dropRounds);
                if (keep) (keepCpu, keepSeconds, keepKernel) = (keepCpu + used, keepSeconds + seconds / (2 * dropRounds), keepKernel + kernelMs / (2 * dropRounds));
                else (dropCpu, dropSeconds, dropKernel) = (dropCpu + used, dropSeconds + seconds / (2 * dropRounds), dropKernel + kernelMs / (2 * dropRounds));
            }
            foreach (var path in dropFiles) File.Delete(path);
            CpuMsPerMib();
            // Interleaved rounds of one raw stream and one download each: the ratio of a single pair moves with the machine
            // from run to run, so the verdict is the median over the rounds (the first pair above is round 1).
            var roundRatios = new List<double> { baselineSeconds / downloadSeconds };
            var roundRates = new List<string> { $"{size / 1e6 / baselineSeconds:0}/{size / 1e6 / downloadSeconds:0}" };
            for (var round = 1; round < rounds; round++)
            {
                clock.Restart();
                await SendToSinkAsync(connection, size, cancellationToken);
                var rawSeconds = clock.Elapsed.TotalSeconds;
                var roundOutput = Path.Combine(directory, $"round-{round}.bin");
                clock.Restart();
                await contentClient.DownloadAsync(upload.Reference, [holder], roundOutput, cancellationToken: cancellationToken);
                roundRatios.Add(rawSeconds / clock.Elapsed.TotalSeconds);
                roundRates.Add($"{size / 1e6 / rawSeconds:0}/{size / 1e6 / clock.Elapsed.TotalSeconds:0}");
                File.Delete(roundOutput);
            }
            CpuMsPerMib();
            roundRatios.Sort();
            var medianRatio = roundRatios[roundRatios.Count / 2];
            if (download.ChunksFetched != upload.Reference.ChunkCount || new FileInfo(output).Length != size)
                throw new InvalidDataException("the download did not fetch every chunk");
            var (hashMicros, openMicros, keystreamMicros) = VerifyCost(chunkSize);
            var (writeCpu, writeProcessCpu) = FileWriteCpuMsPerMib(Path.Combine(directory, "write-cost.bin"), chunkSize);
            if (profileRaw > 0)
            {
                Console.Error.WriteLine($"content: profiling {profileRaw} raw streams");
                if (profileGate) Console.In.ReadLine();
                for (var i = 0; i < profileRaw; i++) await SendToSinkAsync(connection, size, cancellationToken);
                Console.Error.WriteLine("content: profiling raw done");
            }
            if (profileDownloads > 0)
            {
                Console.Error.WriteLine($"content: profiling {profileDownloads} downloads");
                if (profileGate) Console.In.ReadLine();
                for (var i = 0; i < profileDownloads; i++)
                    await contentClient.DownloadAsync(upload.Reference, [holder], Path.Combine(directory, "profiled.bin"), cancellationToken: cancellationToken);
                Console.Error.WriteLine("content: profiling done");
            }

            double Mb(double seconds) => size / 1e6 / seconds;
            var baseline = Mb(baselineSeconds);
            // A verified chunk is opened by the keystream alone (ContentCipher.TryOpenVerifiedInPlace): that is the receiver's minimum.
            var bound = CpuBound.Of(baseline, baselineCpu, hashMicros + keystreamMicros, chunkSize);
            var writeBound = CpuBound.Of(baseline, baselineCpu + writeCpu, hashMicros + keystreamMicros, chunkSize);
            var aeadWriteBound = CpuBound.Of(baseline, baselineCpu + writeCpu, hashMicros + openMicros, chunkSize);
            // Were each end on cores of its own (twice these), the same work per MiB would no longer cap the download.
            var ownCoresBound = CpuBound.Of(baseline, baselineCpu + writeCpu, hashMicros + keystreamMicros, chunkSize, 2 * Environment.ProcessorCount);
            Console.WriteLine($"content: {size:N0} bytes in {upload.Reference.ChunkCount} chunks of {chunkSize:N0}");
            Console.WriteLine($"  one raw stream (baseline)        {baseline,8:0.0} MB/s  CPU {baselineCpu,6:0.0} ms/MiB (kernel {baselineKernel:0.0})");
            Console.WriteLine($"  upload (encrypt, hash, put+fsync) {Mb(uploadSeconds),8:0.0} MB/s  {Mb(uploadSeconds) / baseline,6:P0} of baseline  CPU {uploadCpu,6:0.0} ms/MiB");
            Console.WriteLine($"  download (fetch, verify, decrypt) {Mb(downloadSeconds),8:0.0} MB/s  {Mb(downloadSeconds) / baseline,6:P0} of baseline  CPU {downloadCpu,6:0.0} ms/MiB"
                + $" (kernel {downloadKernel:0.0})  (target {DownloadTarget:P0}: {(Mb(downloadSeconds) / baseline >= DownloadTarget ? "met" : "NOT met")})");
            Console.WriteLine($"  download / raw stream over {rounds} interleaved rounds: median {medianRatio:P0} (min {roundRatios[0]:P0}, max {roundRatios[^1]:P0})"
                + $"  (target {DownloadTarget:P0}: {(medianRatio >= DownloadTarget ? "met" : "NOT met")}); raw/download MB/s per round: {string.Join(", ", roundRates)}");
            Console.WriteLine($"  download, 4 streams x 4 x 32      {Mb(deepSeconds),8:0.0} MB/s  {Mb(deepSeconds) / baseline,6:P0} of baseline  CPU {deepCpu,6:0.0} ms/MiB");
            Console.WriteLine($"  A/B, {abDownloads} downloads each (ABBA x {abRounds}): keystream open {Mb(keystreamSeconds):0.0} MB/s, CPU {keystreamCpu:0.00} ms/MiB;"
                + $" AEAD open {Mb(aeadSeconds):0.0} MB/s, CPU {aeadCpu:0.00} ms/MiB");
            if (dropRounds > 0)
                Console.WriteLine($"  A/B, {2 * dropRounds} downloads each (ABBA x {dropRounds}, files kept): pages dropped once flushed {Mb(dropSeconds):0.0} MB/s, CPU {dropCpu:0.00} ms/MiB"
                    + $" (kernel {dropKernel:0.00}); kept cached {Mb(keepSeconds):0.0} MB/s, CPU {keepCpu:0.00} ms/MiB (kernel {keepKernel:0.00})");
            Console.WriteLine($"  verify per chunk: BLAKE3 {hashMicros:0} µs + keystream open {keystreamMicros:0} µs (AEAD open with its tag: {openMicros:0} µs);"
                + $" SIMD: Vector256 {System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated}, AVX2 {System.Runtime.Intrinsics.X86.Avx2.IsSupported}");
            Console.WriteLine($"  CPU bound on {bound.Cores} cores (both ends share them): raw stream {baselineCpu:0.0} + verify {bound.VerifyCpuMsPerMib:0.0} = {bound.CpuMsPerMib:0.0} ms/MiB"
                + $" -> at most {bound.MbPerSec:0.0} MB/s = {bound.Ratio:P0} of baseline; the download reached {Mb(downloadSeconds) / bound.MbPerSec:P0} of the bound"
                + $" and spent {downloadCpu - bound.CpuMsPerMib:0.0} ms/MiB above it");
            Console.WriteLine($"  with the file write ({writeCpu:0.00} ms/MiB: page cache copy and fsync, measured alone on its thread; the process {writeProcessCpu:0.00}): {writeBound.CpuMsPerMib:0.0} ms/MiB"
                + $" -> at most {writeBound.MbPerSec:0.0} MB/s = {writeBound.Ratio:P0} of baseline; the download reached {Mb(downloadSeconds) / writeBound.MbPerSec:P0} of it"
                + $" (with the AEAD open instead of the keystream: {aeadWriteBound.Ratio:P0}); on {ownCoresBound.Cores} cores: {ownCoresBound.Ratio:P0}");
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["bench"] = Name,
                ["bytes"] = size,
                ["chunkSize"] = chunkSize,
                ["baselineMbPerSec"] = Math.Round(baseline, 1),
                ["uploadMbPerSec"] = Math.Round(Mb(uploadSeconds), 1),
                ["downloadMbPerSec"] = Math.Round(Mb(downloadSeconds), 1),
                ["uploadRatio"] = Math.Round(Mb(uploadSeconds) / baseline, 3),
                ["downloadRatio"] = Math.Round(Mb(downloadSeconds) / baseline, 3),
                ["downloadTarget"] = DownloadTarget,
                ["rounds"] = rounds,
                ["roundRatios"] = roundRatios.Select(r => Math.Round(r, 3)).ToArray(),
                ["medianRoundRatio"] = Math.Round(medianRatio, 3),
                ["baselineCpuMsPerMib"] = Math.Round(baselineCpu, 2),
                ["uploadCpuMsPerMib"] = Math.Round(uploadCpu, 2),
                ["downloadCpuMsPerMib"] = Math.Round(downloadCpu, 2),
                ["baselineKernelCpuMsPerMib"] = Math.Round(baselineKernel, 2),
                ["downloadKernelCpuMsPerMib"] = Math.Round(downloadKernel, 2),
                ["deepDownloadMbPerSec"] = Math.Round(Mb(deepSeconds), 1),
                ["deepDownloadRatio"] = Math.Round(Mb(deepSeconds) / baseline, 3),
                ["deepDownloadCpuMsPerMib"] = Math.Round(deepCpu, 2),
                ["abDownloadsEach"] = abDownloads,
                ["abKeystreamMbPerSec"] = Math.Round(Mb(keystreamSeconds), 1),
                ["abKeystreamCpuMsPerMib"] = Math.Round(keystreamCpu, 2),
                ["abAeadMbPerSec"] = Math.Round(Mb(aeadSeconds), 1),
                ["abAeadCpuMsPerMib"] = Math.Round(aeadCpu, 2),
                ["abDropDownloadsEach"] = 2 * dropRounds,
                ["abDropMbPerSec"] = dropRounds > 0 ? Math.Round(Mb(dropSeconds), 1) : 0,
                ["abDropCpuMsPerMib"] = Math.Round(dropCpu, 2),
                ["abDropKernelCpuMsPerMib"] = Math.Round(dropKernel, 2),
                ["abKeepMbPerSec"] = dropRounds > 0 ? Math.Round(Mb(keepSeconds), 1) : 0,
                ["abKeepCpuMsPerMib"] = Math.Round(keepCpu, 2),
                ["abKeepKernelCpuMsPerMib"] = Math.Round(keepKernel, 2),
                ["verifyHashMicrosPerChunk"] = Math.Round(hashMicros, 1),
                ["verifyOpenMicrosPerChunk"] = Math.Round(openMicros, 1),
                ["verifyKeystreamMicrosPerChunk"] = Math.Round(keystreamMicros, 1),
                ["cores"] = bound.Cores,
                ["boundCpuMsPerMib"] = Math.Round(bound.CpuMsPerMib, 2),
                ["boundMbPerSec"] = Math.Round(bound.MbPerSec, 1),
                ["boundRatio"] = Math.Round(bound.Ratio, 3),
                ["downloadShareOfBound"] = Math.Round(Mb(downloadSeconds) / bound.MbPerSec, 3),
                ["fileWriteCpuMsPerMib"] = Math.Round(writeCpu, 2),
                ["fileWriteProcessCpuMsPerMib"] = Math.Round(writeProcessCpu, 2),
                ["boundWithWriteMbPerSec"] = Math.Round(writeBound.MbPerSec, 1),
                ["boundWithWriteRatio"] = Math.Round(writeBound.Ratio, 3),
                ["boundWithWriteAeadRatio"] = Math.Round(aeadWriteBound.Ratio, 3),
                ["boundWithWriteOnTwiceTheCoresRatio"] = Math.Round(ownCoresBound.Ratio, 3),
            }));
            return 0;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
