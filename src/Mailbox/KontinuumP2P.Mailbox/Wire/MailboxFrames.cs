using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Mailbox.Protos;

namespace KontinuumP2P.Mailbox.Wire;

/// <summary>
/// Length-prefixed protobuf frames over a pipe. The declared length is checked against the cap before anything is
/// buffered; the message is parsed straight from the pipe's buffer.
/// </summary>
internal static class MailboxFrames
{
    /// <summary>Reads one frame; null when the input ended cleanly between frames.</summary>
    /// <exception cref="InvalidDataException">Bad length, over the cap, truncated, or not a valid message.</exception>
    public static async ValueTask<T?> ReadAsync<T>(PipeReader reader, MessageParser<T> parser, int maxLength, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = Varint.TryRead(buffer, out var length, out var prefix);
            if (status == VarintStatus.Ok)
            {
                if (length > (ulong)maxLength)
                {
                    reader.AdvanceTo(buffer.Start);
                    throw new InvalidDataException($"frame of {length} bytes exceeds the {maxLength}-byte limit");
                }
                if (buffer.Length - prefix < (long)length && buffer.Length - prefix >= CopyThreshold)
                {
                    // A frame larger than the muxer's receive window never arrives whole while it sits unconsumed
                    // in the pipe (no credit is returned): copy it out piece by piece instead.
                    return await ReadLargeAsync(reader, parser, buffer, prefix, (int)length, cancellationToken).ConfigureAwait(false);
                }
                if (buffer.Length - prefix >= (long)length)
                {
                    var body = buffer.Slice(prefix, (long)length);
                    T message;
                    try
                    {
                        message = parser.ParseFrom(body);
                    }
                    catch (InvalidProtocolBufferException e)
                    {
                        reader.AdvanceTo(buffer.Start);
                        throw new InvalidDataException($"invalid frame: {e.Message}", e);
                    }
                    reader.AdvanceTo(body.End);
                    return message;
                }
            }
            else if (status != VarintStatus.NeedMoreData)
            {
                reader.AdvanceTo(buffer.Start);
                throw new InvalidDataException($"malformed length prefix ({status})");
            }
            if (result.IsCompleted)
            {
                var empty = buffer.IsEmpty;
                reader.AdvanceTo(buffer.End);
                if (empty) return null;
                throw new InvalidDataException("stream ended inside a frame");
            }
            if (result.IsCanceled) throw new OperationCanceledException(cancellationToken);
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    // Well below Yamux's 256 KiB initial stream window.
    private const int CopyThreshold = 64 * 1024;

    private static async ValueTask<T> ReadLargeAsync<T>(PipeReader reader, MessageParser<T> parser, ReadOnlySequence<byte> buffer, int prefix,
        int length, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        // The length was checked against the cap before this allocation.
        var body = new byte[length];
        var filled = 0;
        var available = buffer.Slice(prefix);
        while (true)
        {
            var take = (int)Math.Min(available.Length, length - filled);
            available.Slice(0, take).CopyTo(body.AsSpan(filled));
            filled += take;
            reader.AdvanceTo(available.GetPosition(take));
            if (filled == length) break;
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            available = result.Buffer;
            if (available.IsEmpty && result.IsCompleted)
            {
                reader.AdvanceTo(available.End);
                throw new InvalidDataException("stream ended inside a frame");
            }
            if (result.IsCanceled) throw new OperationCanceledException(cancellationToken);
        }
        try
        {
            return parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"invalid frame: {e.Message}", e);
        }
    }

    /// <summary>Appends one frame without flushing.</summary>
    public static void Write(IBufferWriter<byte> writer, IMessage message)
    {
        Varint.Write(writer, (ulong)message.CalculateSize());
        message.WriteTo(writer);
    }

    /// <summary>Writes one frame and flushes.</summary>
    public static async ValueTask WriteAsync(PipeWriter writer, IMessage message, CancellationToken cancellationToken)
    {
        Write(writer, message);
        var flush = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flush.IsCompleted) throw new IOException("the remote stopped reading the stream");
    }

    /// <summary>Wraps bytes in a ByteString without copying (the caller keeps them unchanged).</summary>
    public static ByteString Wrap(ReadOnlyMemory<byte> bytes) => UnsafeByteOperations.UnsafeWrap(bytes);
}
