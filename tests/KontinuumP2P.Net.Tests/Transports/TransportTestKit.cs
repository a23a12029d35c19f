using System.Buffers;
using System.IO.Pipelines;

namespace KontinuumP2P.Net.Tests.Transports;

/// <summary>Small pipe helpers shared by the transport and host tests.</summary>
internal static class TransportTestKit
{
    public static async Task<byte[]> ReadToEndAsync(PipeReader reader, int maxBytes, CancellationToken ct)
    {
        var collected = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            foreach (var segment in result.Buffer) collected.Write(segment.Span);
            reader.AdvanceTo(result.Buffer.End);
            if (collected.WrittenCount > maxBytes) throw new InvalidDataException("more bytes than expected");
            if (result.IsCompleted) return collected.WrittenSpan.ToArray();
        }
    }

    public static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int count, CancellationToken ct)
    {
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            if (result.Buffer.Length >= count)
            {
                var bytes = result.Buffer.Slice(0, count).ToArray();
                reader.AdvanceTo(result.Buffer.GetPosition(count));
                return bytes;
            }
            if (result.IsCompleted) throw new EndOfStreamException($"ended after {result.Buffer.Length} of {count} bytes");
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    public static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
