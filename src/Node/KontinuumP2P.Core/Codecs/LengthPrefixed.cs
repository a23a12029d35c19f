using System.Buffers;
using System.IO.Pipelines;

namespace KontinuumP2P.Core.Codecs;

/// <summary>
/// Varint-length-prefixed messages over pipes (multistream, identify, kad, cert exchange). The declared length is
/// checked against a cap before anything is buffered or allocated.
/// </summary>
public static class LengthPrefixed
{
    /// <summary>
    /// Reads one message and returns a copy of its body, or null when the input ended cleanly before a message began.
    /// Bytes after the message stay in the reader.
    /// </summary>
    /// <exception cref="InvalidDataException">The length is malformed or over <paramref name="maxLength"/>, or the input ended inside the message.</exception>
    public static async ValueTask<byte[]?> ReadAsync(PipeReader reader, int maxLength, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryParse(ref buffer, maxLength, out var message))
            {
                reader.AdvanceTo(buffer.Start);
                return message;
            }
            if (result.IsCompleted)
            {
                var empty = result.Buffer.IsEmpty;
                reader.AdvanceTo(result.Buffer.End);
                if (empty) return null;
                throw new InvalidDataException("stream ended inside a length-prefixed message");
            }
            if (result.IsCanceled) throw new OperationCanceledException(cancellationToken);
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>
    /// Parses one message from the start of <paramref name="buffer"/>; on success <paramref name="buffer"/> is advanced
    /// past it. Returns false when more bytes are needed.
    /// </summary>
    /// <exception cref="InvalidDataException">Malformed length or over the cap.</exception>
    public static bool TryParse(ref ReadOnlySequence<byte> buffer, int maxLength, out byte[] message)
    {
        message = [];
        var status = Varint.TryRead(buffer, out var length, out var prefix);
        switch (status)
        {
            case VarintStatus.NeedMoreData:
                return false;
            case VarintStatus.Ok:
                break;
            default:
                throw new InvalidDataException($"malformed length prefix ({status})");
        }
        if (length > (ulong)maxLength) throw new InvalidDataException($"message of {length} bytes exceeds the {maxLength}-byte limit");
        if (buffer.Length - prefix < (long)length) return false;
        message = buffer.Slice(prefix, (long)length).ToArray();
        buffer = buffer.Slice(prefix + (long)length);
        return true;
    }

    /// <summary>Appends one length-prefixed message to <paramref name="writer"/> without flushing.</summary>
    public static void Write(IBufferWriter<byte> writer, ReadOnlySpan<byte> message)
    {
        Varint.Write(writer, (ulong)message.Length);
        writer.Write(message);
    }

    /// <summary>Writes one length-prefixed message and flushes.</summary>
    public static async ValueTask WriteAsync(PipeWriter writer, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        Write(writer, message.Span);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
