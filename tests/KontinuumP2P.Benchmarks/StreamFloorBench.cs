using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using KontinuumP2P.Net.Security.Noise;
using static KontinuumP2P.Benchmarks.StreamThroughputBench;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// Baselines for <c>stream-throughput</c> on the same machine. The ideal stream: two dedicated threads on blocking
/// loopback TCP, Noise-sized frames (65,519 plaintext bytes) sealed straight from the application's buffer into the send
/// batch and opened straight out of the receive buffer; no muxer, no pipes, no thread pool, no handshake. And the
/// zero-overhead bound, which no stack over loopback TCP can pass: seal, open and plain TCP (no crypto, sends of the
/// same batch size) with both cores busy all the time. Each repetition sits between two one-core AEAD measurements.
/// </summary>
public sealed class StreamFloorBench : IBench
{
    private const int MaxPlaintext = 65535 - CipherState.TagSize;
    private const int AppBufferSize = 256 * 1024;

    /// <inheritdoc />
    public string Name => "stream-floor";

    /// <inheritdoc />
    public string Description =>
        "the ideal Noise-framed stream (two threads, blocking loopback TCP, seal and open in place, no muxer) and the zero-overhead bound (seal + open + plain TCP, both cores always busy), against the one-core AEAD rate of the same run: baselines for stream-throughput (args: --bytes N --repeats R --batch-frames F)";

    /// <inheritdoc />
    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var total = BenchArgs.GetLong(args, "--bytes", 1L << 30);
        var repeats = (int)Math.Clamp(BenchArgs.GetLong(args, "--repeats", 5), 1, 50);
        // Frames per send call (and half the receive buffer): 4 is the stack's 256 KiB send segment.
        var framesPerBatch = (int)Math.Clamp(BenchArgs.GetLong(args, "--batch-frames", 4), 1, 64);
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var message = System.Security.Cryptography.RandomNumberGenerator.GetBytes(64 * 1024);
        // Warm-up: every loop reaches tier-1 code before anything is measured.
        AeadBench.MeasureBcl(key, message, TimeSpan.FromMilliseconds(300), cancellationToken);
        for (var round = 0; round < 3; round++)
        {
            Transfer(Math.Min(total, 128L << 20), framesPerBatch, encrypted: true, cancellationToken);
            Transfer(Math.Min(total, 128L << 20), framesPerBatch, encrypted: false, cancellationToken);
        }

        var framed = new List<(double Ratio, double Bound, double NsPerByte, double MBps)>();
        var plain = new List<double>();
        var zeroOverhead = new List<double>();
        for (var repetition = 0; repetition < repeats; repetition++)
        {
            var before = AeadBench.MeasureBcl(key, message, TimeSpan.FromMilliseconds(500), cancellationToken);
            var run = Transfer(total, framesPerBatch, encrypted: true, cancellationToken);
            var tcp = Transfer(total, framesPerBatch, encrypted: false, cancellationToken);
            var after = AeadBench.MeasureBcl(key, message, TimeSpan.FromMilliseconds(500), cancellationToken);
            var aeadWall = (before.Wall + after.Wall) / 2;
            var aeadCpu = (before.Cpu + after.Cpu) / 2;
            var ratio = run.MBps / aeadWall;
            var bound = 2 * 1e3 / run.NsPerByte / aeadCpu;
            framed.Add((ratio, bound, run.NsPerByte, run.MBps));
            plain.Add(tcp.NsPerByte);
            // No code of ours at all and both cores always busy: seal, open and the kernel's TCP are all that is left.
            var aeadNsPerByte = 1e3 / aeadCpu;
            zeroOverhead.Add(2 * aeadNsPerByte / (2 * aeadNsPerByte + tcp.NsPerByte));
            Console.WriteLine($"  #{repetition + 1}: ideal stream {run.MBps,6:0} MB/s, AEAD {aeadWall,5:0} MB/s -> {ratio,4:P0}; " +
                $"CPU {run.NsPerByte:0.00} ns/B (bound {bound:P0}; seal + open alone {2 * 1e3 / aeadCpu:0.00}); " +
                $"plain TCP {tcp.MBps,6:0} MB/s, CPU {tcp.NsPerByte:0.00} ns/B (zero-overhead bound {zeroOverhead[^1]:P0})");
        }
        var ratios = framed.Select(f => f.Ratio).Order().ToArray();
        var bounds = framed.Select(f => f.Bound).Order().ToArray();
        var nsPerByte = framed.Select(f => f.NsPerByte).Order().ToArray();
        var plainNs = plain.Order().ToArray();
        var zero = zeroOverhead.Order().ToArray();
        Console.WriteLine($"  ideal stream / AEAD (wall): median {Median(ratios):P0} (min {ratios[0]:P0}, max {ratios[^1]:P0}); " +
            $"two-core bound median {Median(bounds):P0}; CPU median {Median(nsPerByte):0.00} ns/B; plain TCP median {Median(plainNs):0.00} ns/B");
        Console.WriteLine($"  zero-overhead bound (2 x AEAD / (seal + open + plain TCP), both cores always busy): median {Median(zero):P0} " +
            $"(min {zero[0]:P0}, max {zero[^1]:P0})");
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["bench"] = Name,
            ["bytes"] = total,
            ["repeats"] = repeats,
            ["ratioToAead"] = Math.Round(Median(ratios), 3),
            ["ratioMin"] = Math.Round(ratios[0], 3),
            ["ratioMax"] = Math.Round(ratios[^1], 3),
            ["twoCoreBound"] = Math.Round(Median(bounds), 3),
            ["cpuNsPerByte"] = Math.Round(Median(nsPerByte), 3),
            ["plainTcpNsPerByte"] = Math.Round(Median(plainNs), 3),
            ["zeroOverheadBound"] = Math.Round(Median(zero), 3),
        }));
        return Task.FromResult(0);
    }

    /// <summary>One ideal encrypted transfer with the stack's batch (four frames, its 256 KiB send segment).</summary>
    internal static (double MBps, double NsPerByte) MeasureIdeal(long total, CancellationToken cancellationToken)
    {
        var run = Transfer(total, 4, encrypted: true, cancellationToken);
        return (run.MBps, run.NsPerByte);
    }

    private readonly record struct Run(double MBps, double NsPerByte);

    // One transfer of `total` plaintext bytes on a fresh loopback connection; CPU is the whole process's (only the two
    // transfer threads are busy while the main thread waits for them).
    private static Run Transfer(long total, int framesPerBatch, bool encrypted, CancellationToken cancellationToken)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var dialer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        dialer.Connect(listener.LocalEndPoint!);
        using var accepted = listener.Accept();
        accepted.NoDelay = true;
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        long received = 0;
        Exception? failure = null;
        var receiver = new Thread(() =>
        {
            try
            {
                received = encrypted ? ReceiveSealed(accepted, key, framesPerBatch, cancellationToken) : ReceivePlain(accepted, framesPerBatch, cancellationToken);
            }
            catch (Exception e) when (e is SocketException or InvalidDataException or OperationCanceledException)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "floor receiver" };
        var sender = new Thread(() =>
        {
            try
            {
                if (encrypted) SendSealed(dialer, key, total, framesPerBatch, cancellationToken);
                else SendPlain(dialer, total, framesPerBatch, cancellationToken);
                dialer.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "floor sender" };
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        receiver.Start();
        sender.Start();
        sender.Join();
        receiver.Join();
        stopwatch.Stop();
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        if (failure is not null) throw new IOException("the floor transfer failed", failure);
        if (received != total) throw new InvalidDataException($"received {received} bytes, sent {total}");
        return new Run(total / 1e6 / stopwatch.Elapsed.TotalSeconds, cpu * 1e9 / total);
    }

    private static void SendSealed(Socket socket, byte[] key, long total, int framesPerBatch, CancellationToken cancellationToken)
    {
        // The stack's own Noise cipher state (nonce counter, seal), so the ideal pays exactly the stack's AEAD.
        using var cipher = new CipherState();
        cipher.InitializeKey(key);
        var app = new byte[AppBufferSize];
        Random.Shared.NextBytes(app);
        var batch = new byte[framesPerBatch * (2 + MaxPlaintext + CipherState.TagSize)];
        var appOffset = 0;
        for (var sent = 0L; sent < total;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var length = 0;
            for (var frame = 0; frame < framesPerBatch && sent < total; frame++)
            {
                var size = (int)Math.Min(MaxPlaintext, total - sent);
                if (appOffset + size > app.Length) appOffset = 0;
                var sealedLength = cipher.EncryptWithAd([], app.AsSpan(appOffset, size), batch.AsSpan(length + 2));
                BinaryPrimitives.WriteUInt16BigEndian(batch.AsSpan(length), (ushort)sealedLength);
                length += 2 + sealedLength;
                appOffset += size;
                sent += size;
            }
            for (var offset = 0; offset < length;) offset += socket.Send(batch, offset, length - offset, SocketFlags.None);
        }
    }

    private static long ReceiveSealed(Socket socket, byte[] key, int framesPerBatch, CancellationToken cancellationToken)
    {
        using var cipher = new CipherState();
        cipher.InitializeKey(key);
        var buffer = new byte[2 * framesPerBatch * (2 + MaxPlaintext + CipherState.TagSize)];
        var plaintext = new byte[MaxPlaintext];
        int start = 0, end = 0;
        long received = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            while (end - start >= 2)
            {
                var length = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(start));
                if (end - start < 2 + length) break;
                if (!cipher.TryDecryptWithAd([], buffer.AsSpan(start + 2, length), plaintext, out var opened))
                    throw new InvalidDataException("a frame did not authenticate");
                start += 2 + length;
                received += opened;
            }
            // Room for at least one whole frame behind the data: move the partial frame to the front.
            if (buffer.Length - end < 2 + MaxPlaintext + CipherState.TagSize)
            {
                buffer.AsSpan(start, end - start).CopyTo(buffer);
                end -= start;
                start = 0;
            }
            var read = socket.Receive(buffer, end, buffer.Length - end, SocketFlags.None);
            if (read == 0) return end == start ? received : throw new InvalidDataException("the stream ended inside a frame");
            end += read;
        }
    }

    private static void SendPlain(Socket socket, long total, int framesPerBatch, CancellationToken cancellationToken)
    {
        var app = new byte[framesPerBatch * 64 * 1024];
        Random.Shared.NextBytes(app);
        for (var sent = 0L; sent < total;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            sent += socket.Send(app, 0, (int)Math.Min(app.Length, total - sent), SocketFlags.None);
        }
    }

    private static long ReceivePlain(Socket socket, int framesPerBatch, CancellationToken cancellationToken)
    {
        var buffer = new byte[framesPerBatch * 64 * 1024];
        long received = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var read = socket.Receive(buffer);
            if (read == 0) return received;
            received += read;
        }
    }
}
