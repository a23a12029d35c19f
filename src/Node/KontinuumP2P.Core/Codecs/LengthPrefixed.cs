using System.Buffers;
using System.IO.Pipelines;

namespace KontinuumP2P.Core.Codecs;

/// <summary>
/// Varint-length-prefixed messages over pipes (multistream, identify, kad, cert exchange). The declared length is
/// checked against a cap before anything is buffered or allocated.
/// </summary>
public static class LengthPrefixed
{
    /// <summary>First buffer of a message body; it grows (doubling) as bytes arrive, never past the declared length.</summary>
    private const int InitialBodyBuffer = 64 * 1024;

    /// <summary>
    /// Reads one message and returns a copy of its body, or null when the input ended cleanly before a message began.
    /// Bytes after the message stay in the reader. The body is consumed from the reader as it arrives, so a message
    /// larger than a muxer's flow-control window still arrives (the window is granted back as bytes are consumed), and
    /// memory grows with the bytes received, not with the length a peer declares.
    /// </summary>
    /// <exception cref="InvalidDataException">The length is malformed or over <paramref name="maxLength"/>, or the input ended inside the message.</exception>
    public static async ValueTask<byte[]?> ReadAsync(PipeReader reader, int maxLength, CancellationToken cancellationToken)
    {
        byte[] body;
        int length, filled;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = Varint.TryRead(buffer, out var declared, out var prefix);
            if (status == VarintStatus.Ok)
            {
                if (declared > (ulong)maxLength)
                {
                    reader.AdvanceTo(buffer.Start);
                    throw new InvalidDataException($"message of {declared} bytes exceeds the {maxLength}-byte limit");
                }
                length = (int)declared;
                var available = buffer.Slice(prefix);
                if (available.Length >= length)
                {
                    var message = available.Slice(0, length).ToArray();
                    reader.AdvanceTo(available.GetPosition(length));
                    return message;
                }
                body = new byte[Math.Min(length, Math.Max(InitialBodyBuffer, (int)available.Length))];
                available.CopyTo(body);
                filled = (int)available.Length;
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted) throw new InvalidDataException("stream ended inside a length-prefixed message");
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
                if (empty) return null;
                throw new InvalidDataException("stream ended inside a length-prefixed message");
            }
            if (result.IsCanceled) throw new OperationCanceledException(cancellationToken);
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
        while (filled < length)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var take = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, length - filled));
            if (filled + take.Length > body.Length) Array.Resize(ref body, (int)Math.Min(length, Math.Max(2L * body.Length, filled + take.Length)));
            take.CopyTo(body.AsSpan(filled));
            filled += (int)take.Length;
            reader.AdvanceTo(take.End);
            if (filled < length && result.IsCompleted) throw new InvalidDataException("stream ended inside a length-prefixed message");
            if (filled < length && result.IsCanceled) throw new OperationCanceledException(cancellationToken);
        }
        return body;
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
