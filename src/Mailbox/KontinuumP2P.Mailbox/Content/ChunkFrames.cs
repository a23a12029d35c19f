using System.Buffers;
using System.IO.Pipelines;
using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// The <c>ContentResponse { request_id, chunk { index, data } }</c> frame, written and read around the chunk's bytes so
/// that neither end copies a chunk through a protobuf object: the holder reads the chunk file straight into the
/// stream's send buffer behind this header, and the client reads the whole frame into one pooled buffer and checks,
/// opens and writes the chunk where it lies. The bytes are exactly what the generated code writes (proto3 leaves a zero
/// index out); any other answer goes through the generated parser.
/// </summary>
internal static class ChunkFrames
{
    /// <summary>Room for the length prefix and the field headers of a chunk frame.</summary>
    public const int MaxHeaderLength = 40;

    private const byte RequestIdTag = (1 << 3) | 0;
    private const byte ChunkTag = (5 << 3) | 2;
    private const byte IndexTag = (1 << 3) | 0;
    private const byte DataTag = (2 << 3) | 2;

    /// <summary>Writes the frame's length prefix and headers for <paramref name="dataLength"/> bytes of chunk; returns their length.</summary>
    public static int WriteHeader(Span<byte> destination, ulong requestId, uint index, int dataLength)
    {
        var chunkLength = (index == 0 ? 0 : 1 + SizeOf(index)) + 1 + SizeOf((ulong)dataLength) + dataLength;
        var bodyLength = (requestId == 0 ? 0 : 1 + SizeOf(requestId)) + 1 + SizeOf((ulong)chunkLength) + chunkLength;
        var at = Write(destination, (ulong)bodyLength);
        if (requestId != 0)
        {
            destination[at++] = RequestIdTag;
            at += Write(destination[at..], requestId);
        }
        destination[at++] = ChunkTag;
        at += Write(destination[at..], (ulong)chunkLength);
        if (index != 0)
        {
            destination[at++] = IndexTag;
            at += Write(destination[at..], index);
        }
        destination[at++] = DataTag;
        at += Write(destination[at..], (ulong)dataLength);
        return at;
    }

    // Protobuf varints carry all 64 bits (a request id is any uint64 the client chose); Core's Varint stops at 63.
    private static int SizeOf(ulong value) => Google.Protobuf.CodedOutputStream.ComputeRawVarint64Size(value);

    private static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int read)
    {
        value = 0;
        for (read = 0; read < source.Length && read < 10; read++)
        {
            value |= (ulong)(source[read] & 0x7f) << (7 * read);
            if (source[read] < 0x80)
            {
                read++;
                return true;
            }
        }
        return false;
    }

    private static int Write(Span<byte> destination, ulong value)
    {
        var at = 0;
        while (value >= 0x80)
        {
            destination[at++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[at++] = (byte)value;
        return at;
    }

    /// <summary>
    /// Parses a frame body that is exactly a chunk with data (the shape <see cref="WriteHeader"/> writes); false for
    /// anything else (a missing chunk, an error, an unexpected field), which the caller parses the general way.
    /// </summary>
    public static bool TryParseChunk(ReadOnlySpan<byte> body, out ulong requestId, out uint index, out int dataOffset, out int dataLength)
    {
        requestId = 0;
        index = 0;
        dataOffset = dataLength = 0;
        var at = 0;
        if (at < body.Length && body[at] == RequestIdTag)
        {
            if (!TryRead(body[++at..], out requestId, out var read)) return false;
            at += read;
        }
        if (at >= body.Length || body[at++] != ChunkTag || !TryRead(body[at..], out var chunkLength, out var lengthBytes)) return false;
        at += lengthBytes;
        if (chunkLength != (ulong)(body.Length - at)) return false;
        if (at < body.Length && body[at] == IndexTag)
        {
            if (!TryRead(body[++at..], out var value, out var read) || value > uint.MaxValue) return false;
            index = (uint)value;
            at += read;
        }
        if (at >= body.Length || body[at++] != DataTag || !TryRead(body[at..], out var length, out var dataBytes)) return false;
        at += dataBytes;
        if (length != (ulong)(body.Length - at)) return false;
        dataOffset = at;
        dataLength = (int)length;
        return true;
    }

    /// <summary>
    /// Reads the next frame's body into <paramref name="destination"/> as it arrives; its length, or -1 when the input
    /// ended cleanly between frames. The declared length is checked against the buffer before anything is copied.
    /// </summary>
    /// <exception cref="InvalidDataException">A bad or oversized length prefix, or the stream ended inside a frame.</exception>
    public static async ValueTask<int> ReadFrameAsync(PipeReader reader, byte[] destination, CancellationToken cancellationToken)
    {
        ulong length;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = Varint.TryRead(buffer, out length, out var prefix);
            if (status == VarintStatus.Ok)
            {
                if (length > (ulong)destination.Length)
                {
                    reader.AdvanceTo(buffer.Start);
                    throw new InvalidDataException($"frame of {length} bytes exceeds the {destination.Length}-byte limit of a chunk answer");
                }
                reader.AdvanceTo(buffer.Slice(prefix).Start);
                break;
            }
            if (status != VarintStatus.NeedMoreData)
            {
                reader.AdvanceTo(buffer.Start);
                throw new InvalidDataException($"malformed length prefix ({status})");
            }
            if (result.IsCompleted)
            {
                var empty = buffer.IsEmpty;
                reader.AdvanceTo(buffer.End);
                if (empty) return -1;
                throw new InvalidDataException("stream ended inside a frame");
            }
            if (result.IsCanceled) throw new OperationCanceledException(cancellationToken);
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
        // Consumed as it arrives: a muxed stream grants window only for consumed bytes.
        var filled = 0;
        while (filled < (int)length)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var available = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, (int)length - filled));
            available.CopyTo(destination.AsSpan(filled));
            filled += (int)available.Length;
            reader.AdvanceTo(available.End);
            if (filled < (int)length && result.IsCompleted) throw new InvalidDataException("stream ended inside a frame");
            if (result.IsCanceled) throw new OperationCanceledException(cancellationToken);
        }
        return filled;
    }
}
