using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Security;
using KontinuumP2P.Net.Security.Noise;
using KontinuumP2P.Testing;
using NSec.Cryptography;
using BclChaCha20Poly1305 = System.Security.Cryptography.ChaCha20Poly1305;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// Single-core ChaCha20-Poly1305 seal rate for 64 KiB messages, BCL (OpenSSL) against NSec (libsodium), plus the
/// Noise CipherState built on the faster one. That rate is the ceiling the stack throughput target (≥ 60%) is stated
/// against. <c>--noise</c> also pushes bytes one way through two Noise secure connections over in-memory pipes.
/// Usage: <c>aead [--seconds S] [--noise]</c>.
/// </summary>
public sealed class AeadBench : IBench
{
    private const int MessageSize = 64 * 1024;

    /// <inheritdoc />
    public string Name => "aead";

    /// <inheritdoc />
    public string Description => "ChaCha20-Poly1305 seal MB/s on one core, 64 KiB messages: BCL vs NSec (--noise: Noise layer too)";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var seconds = 2.0;
        var noise = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds" when i + 1 < args.Length:
                    seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--noise":
                    noise = true;
                    break;
                default:
                    await Console.Error.WriteLineAsync($"aead: unknown argument '{args[i]}'");
                    return 2;
            }
        }
        var duration = TimeSpan.FromSeconds(seconds);
        var key = new byte[32];
        System.Security.Cryptography.RandomNumberGenerator.Fill(key);
        var message = new byte[MessageSize];
        System.Security.Cryptography.RandomNumberGenerator.Fill(message);

        var bcl = MeasureBcl(key, message, duration, cancellationToken);
        var nsec = MeasureNSec(key, message, duration, cancellationToken);
        var cipherState = MeasureCipherState(key, message, duration, cancellationToken);
        Rate? noiseLayer = noise ? await MeasureNoiseAsync(duration, cancellationToken) : null;
        var fastest = bcl.Wall >= nsec.Wall ? bcl : nsec;

        // CPU-second figures stay comparable when the machine is busy (wall figures then mostly measure the load).
        Console.WriteLine($"{"implementation",-36} {"MB/s",8} {"MB/CPU-s",9}");
        Console.WriteLine($"{"BCL ChaCha20Poly1305 (OpenSSL)",-36} {bcl.Wall,8:F0} {bcl.Cpu,9:F0}");
        Console.WriteLine($"{"NSec ChaCha20Poly1305 (libsodium)",-36} {nsec.Wall,8:F0} {nsec.Cpu,9:F0}");
        Console.WriteLine($"{"Noise CipherState (what Noise uses)",-36} {cipherState.Wall,8:F0} {cipherState.Cpu,9:F0}");
        if (noiseLayer is { } layer)
        {
            Console.WriteLine($"{"Noise layer, in-memory, one way",-36} {layer.Wall,8:F0} {layer.Cpu,9:F0}");
            Console.WriteLine($"  wall rate = {layer.Wall / fastest.Wall:P0} of the single-core AEAD rate; per CPU-second " +
                $"{layer.Cpu / fastest.Cpu:P0} (seal + open per byte: 50% is the ideal)");
        }
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = Name,
            messageBytes = MessageSize,
            bclMBps = Math.Round(bcl.Wall),
            nsecMBps = Math.Round(nsec.Wall),
            cipherStateMBps = Math.Round(cipherState.Wall),
            bclMBPerCpuSecond = Math.Round(bcl.Cpu),
            nsecMBPerCpuSecond = Math.Round(nsec.Cpu),
            noiseLayerMBps = noiseLayer is null ? (double?)null : Math.Round(noiseLayer.Value.Wall),
            noiseLayerMBPerCpuSecond = noiseLayer is null ? (double?)null : Math.Round(noiseLayer.Value.Cpu),
        }));
        return 0;
    }

    /// <summary>The BCL (OpenSSL) seal rate of 64 KiB messages on the calling thread: the single-core AEAD rate.</summary>
    internal static Rate MeasureBcl(byte[] key, byte[] message, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var aead = new BclChaCha20Poly1305(key);
        var nonce = new byte[12];
        var ciphertext = new byte[message.Length];
        var tag = new byte[16];
        return Measure(() =>
        {
            nonce[4]++;
            aead.Encrypt(nonce, message, ciphertext, tag);
        }, message.Length, duration, cancellationToken);
    }

    private static Rate MeasureNSec(byte[] key, byte[] message, TimeSpan duration, CancellationToken cancellationToken)
    {
        var algorithm = AeadAlgorithm.ChaCha20Poly1305;
        using var nsecKey = Key.Import(algorithm, key, KeyBlobFormat.RawSymmetricKey);
        var nonce = new byte[12];
        var ciphertext = new byte[message.Length + 16];
        return Measure(() =>
        {
            nonce[4]++;
            algorithm.Encrypt(nsecKey, nonce, ReadOnlySpan<byte>.Empty, message, ciphertext);
        }, message.Length, duration, cancellationToken);
    }

    private static Rate MeasureCipherState(byte[] key, byte[] message, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var cipher = new CipherState();
        cipher.InitializeKey(key);
        var ciphertext = new byte[message.Length + CipherState.TagSize];
        return Measure(() => cipher.EncryptWithAd(ReadOnlySpan<byte>.Empty, message, ciphertext), message.Length, duration, cancellationToken);
    }

    // Runs on the calling thread only: a single-core figure. A short warm-up first (JIT, OpenSSL init).
    private static Rate Measure(Action seal, int bytesPerCall, TimeSpan duration, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 200; i++) seal();
        long calls = 0;
        var cpuBefore = ProcessCpu();
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < duration && !cancellationToken.IsCancellationRequested)
        {
            for (var i = 0; i < 64; i++) seal();
            calls += 64;
        }
        var bytes = calls * (double)bytesPerCall;
        return new Rate(bytes / watch.Elapsed.TotalSeconds / 1e6, bytes / (ProcessCpu() - cpuBefore).TotalSeconds / 1e6);
    }

    private static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private static async Task<Rate> MeasureNoiseAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        using var dialerIdentity = Ed25519Identity.Generate();
        using var listenerIdentity = Ed25519Identity.Generate();
        using var dialerNoise = new NoiseSecurity(dialerIdentity);
        using var listenerNoise = new NoiseSecurity(listenerIdentity);
        var (dialerRaw, listenerRaw) = ConnectionPair.Create();
        var inbound = listenerNoise.SecureInboundAsync(listenerRaw, cancellationToken).AsTask();
        await using var dialer = await dialerNoise.SecureOutboundAsync(dialerRaw, listenerIdentity.PeerId, cancellationToken);
        await using var listener = await inbound;

        var chunk = new byte[MessageSize];
        var receiving = Task.Run(async () =>
        {
            long total = 0;
            while (true)
            {
                var result = await listener.Input.ReadAsync(cancellationToken);
                total += result.Buffer.Length;
                listener.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted) return total;
            }
        }, cancellationToken);
        var cpuBefore = ProcessCpu();
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            await dialer.Output.WriteAsync(chunk, cancellationToken);
        await dialer.Output.CompleteAsync();
        var received = await receiving;
        var elapsed = watch.Elapsed;
        var cpu = ProcessCpu() - cpuBefore;
        return new Rate(received / elapsed.TotalSeconds / 1e6, received / cpu.TotalSeconds / 1e6);
    }

    /// <summary>MB per wall-clock second and MB per CPU-second of the whole process.</summary>
    internal readonly record struct Rate(double Wall, double Cpu);
}
