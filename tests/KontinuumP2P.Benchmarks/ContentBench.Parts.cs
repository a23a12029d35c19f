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

// The content bench's measuring parts: the CPU bound, the file write and verify costs, the raw stream and its sink.
public sealed partial class ContentBench
{
    /// <summary>
    /// The fastest a download can go when both hosts share this machine's cores: per MiB it needs at least the raw
    /// stream's own CPU plus one BLAKE3 and one (keystream) open per chunk, and it cannot beat the raw stream itself.
    /// </summary>
    private readonly record struct CpuBound(int Cores, double VerifyCpuMsPerMib, double CpuMsPerMib, double MbPerSec, double Ratio)
    {
        public static CpuBound Of(double baselineMbPerSec, double baselineCpuMsPerMib, double verifyMicrosPerChunk, int chunkSize, int? onCores = null)
        {
            var cores = onCores ?? Environment.ProcessorCount;
            var verify = verifyMicrosPerChunk / 1000 * ((1 << 20) / (double)chunkSize);
            var cpu = baselineCpuMsPerMib + verify;
            var mbPerSec = Math.Min(baselineMbPerSec, cores * 1000 / cpu * (1 << 20) / 1e6);
            return new CpuBound(cores, verify, cpu, mbPerSec, mbPerSec / baselineMbPerSec);
        }
    }

    /// <summary>
    /// CPU per MiB to write 64 MiB at chunk offsets into a fresh file and fsync it, as a download writes its partial
    /// file: the writing thread's own CPU (getrusage of the thread: the kernel's page-cache copy is most of it), and the
    /// whole process's over the same time, which also catches whatever else the process ran meanwhile (tiered JIT, GC).
    /// </summary>
    private static (double Thread, double Process) FileWriteCpuMsPerMib(string path, int chunkSize)
    {
        const int mib = 64;
        var chunk = new byte[chunkSize];
        Random.Shared.NextBytes(chunk);
        var process = Process.GetCurrentProcess();
        var before = process.TotalProcessorTime;
        var threadBefore = ProcessResourceUsage.ThreadCpuSeconds();
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.SetLength(handle, (long)mib << 20);
            for (long offset = 0; offset < (long)mib << 20; offset += chunkSize) RandomAccess.Write(handle, chunk, offset);
            RandomAccess.FlushToDisk(handle);
        }
        var thread = ProcessResourceUsage.ThreadCpuSeconds() - threadBefore;
        process.Refresh();
        var used = process.TotalProcessorTime - before;
        File.Delete(path);
        return (thread * 1000 / mib, used.TotalMilliseconds / mib);
    }

    private static void WriteRandomFile(string path, long size)
    {
        using var stream = File.Create(path);
        var block = new byte[1 << 20];
        for (long written = 0; written < size; written += block.Length)
        {
            Random.Shared.NextBytes(block);
            stream.Write(block, 0, (int)Math.Min(block.Length, size - written));
        }
    }

    /// <summary>
    /// Microseconds of this thread's CPU (getrusage of the thread, so a busy machine's preemptions do not count) per
    /// chunk for the receiver's BLAKE3, AEAD open and keystream-only open, interleaved over 300 chunks each.
    /// </summary>
    private static (double Hash, double Open, double Keystream) VerifyCost(int chunkSize)
    {
        const int rounds = 300;
        var plain = new byte[chunkSize];
        Random.Shared.NextBytes(plain);
        var sealedChunk = new byte[chunkSize + ContentCipher.TagLength];
        var opened = new byte[chunkSize + ContentCipher.TagLength];
        using var cipher = new ContentCipher(ContentCipher.NewKey(), (long)chunkSize * rounds, chunkSize, rounds);
        cipher.Encrypt(0, plain, sealedChunk);
        var hash = new byte[32];
        // The first call checks the tag; the rest XOR the keystream (on the same bytes over and over: the cost is the same).
        if (!cipher.TryOpenVerifiedInPlace(0, sealedChunk.AsSpan().ToArray())) throw new InvalidDataException("a chunk did not open");
        var (hashSeconds, openSeconds, keystreamSeconds) = (0.0, 0.0, 0.0);
        for (var i = 0; i < rounds; i++)
        {
            var t0 = ProcessResourceUsage.ThreadCpuSeconds();
            KontinuumP2P.Certs.Hashing.Blake3.Hash(sealedChunk, hash);
            var t1 = ProcessResourceUsage.ThreadCpuSeconds();
            if (!cipher.TryDecrypt(0, sealedChunk, plain)) throw new InvalidDataException("a chunk did not open");
            var t2 = ProcessResourceUsage.ThreadCpuSeconds();
            sealedChunk.CopyTo(opened, 0);
            var t3 = ProcessResourceUsage.ThreadCpuSeconds();
            cipher.TryOpenVerifiedInPlace(0, opened);
            var t4 = ProcessResourceUsage.ThreadCpuSeconds();
            (hashSeconds, openSeconds, keystreamSeconds) = (hashSeconds + t1 - t0, openSeconds + t2 - t1, keystreamSeconds + t4 - t3);
        }
        if (!opened.AsSpan(0, chunkSize).SequenceEqual(plain)) throw new InvalidDataException("the keystream open differs from the AEAD's plaintext");
        return (hashSeconds * 1e6 / rounds, openSeconds * 1e6 / rounds, keystreamSeconds * 1e6 / rounds);
    }

    private static async Task SendToSinkAsync(IConnection connection, long total, CancellationToken cancellationToken)
    {
        var stream = await connection.NewStreamAsync([SinkProtocol], cancellationToken);
        await using (stream)
        {
            var chunk = new byte[256 << 10];
            Random.Shared.NextBytes(chunk);
            for (var sent = 0L; sent < total; sent += chunk.Length)
            {
                var flush = await stream.Output.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, total - sent)), cancellationToken);
                if (flush.IsCompleted) throw new IOException("the sink closed early");
            }
            await stream.Output.CompleteAsync();
            while (true)
            {
                var result = await stream.Input.ReadAsync(cancellationToken);
                if (result.Buffer.Length >= 8)
                {
                    var bytes = new byte[8];
                    result.Buffer.Slice(0, 8).CopyTo(bytes);
                    stream.Input.AdvanceTo(result.Buffer.GetPosition(8));
                    if (BinaryPrimitives.ReadInt64BigEndian(bytes) != total) throw new InvalidDataException("the sink counted another size");
                    return;
                }
                if (result.IsCompleted) throw new EndOfStreamException("no acknowledgement from the sink");
                stream.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }
        }
    }
}
