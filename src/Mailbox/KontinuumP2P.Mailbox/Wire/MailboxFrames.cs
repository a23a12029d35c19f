using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Mailbox.Protos;

namespace KontinuumP2P.Mailbox.Wire;

/// <summary>A parse of a frame's bytes that may decline (null).</summary>
internal delegate T? SpanParser<T>(ReadOnlySpan<byte> body)
    where T : class;

/// <summary>
/// Length-prefixed protobuf frames over a pipe. The declared length is checked against the cap before anything is
/// buffered; the message is parsed straight from the pipe's buffer.
/// </summary>
internal static class MailboxFrames
{
    /// <summary>Frames up to this size wait in the pipe until complete; larger ones are copied out as they arrive.</summary>
    private const int InPlaceLimit = 64 << 10;

    /// <summary>
    /// Reads one frame; null when the input ended cleanly between frames. A frame copied out of the pipe is charged
    /// to <paramref name="memory"/> (the stream's scope) while it is held. <paramref name="fast"/>, when given, is tried
    /// first on a contiguous frame; null from it falls back to <paramref name="parser"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">Bad length, over the cap, truncated, or not a valid message.</exception>
    /// <exception cref="Core.Resources.ResourceLimitExceededException">A large frame would take a scope over its memory limit.</exception>
    public static async ValueTask<T?> ReadAsync<T>(PipeReader reader, MessageParser<T> parser, int maxLength, CancellationToken cancellationToken,
        Core.Resources.ResourceScope? memory = null, SpanParser<T>? fast = null)
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
                if (buffer.Length - prefix >= (long)length)
                {
                    var body = buffer.Slice(prefix, (long)length);
                    T message;
                    try
                    {
                        message = (fast is not null && body.IsSingleSegment ? fast(body.FirstSpan) : null) ?? parser.ParseFrom(body);
                    }
                    catch (InvalidProtocolBufferException e)
                    {
                        reader.AdvanceTo(buffer.Start);
                        throw new InvalidDataException($"invalid frame: {e.Message}", e);
                    }
                    reader.AdvanceTo(body.End);
                    return message;
                }
                if (length > InPlaceLimit && !result.IsCompleted)
                {
                    // A muxed stream grants window only for consumed bytes: a frame larger than the window must be
                    // taken out of the pipe as it arrives or it never completes. The cap was checked above.
                    reader.AdvanceTo(buffer.Slice(prefix).Start);
                    return await ReadLargeAsync(reader, parser, (int)length, memory, fast, cancellationToken).ConfigureAwait(false);
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

    private static async ValueTask<T> ReadLargeAsync<T>(PipeReader reader, MessageParser<T> parser, int length, Core.Resources.ResourceScope? memory,
        SpanParser<T>? fast, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        using var buffer = ScopedBuffer.Rent(memory, length, $"a {length}-byte frame");
        var body = buffer.Array;
        var filled = 0;
        while (filled < length)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var available = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, length - filled));
            available.CopyTo(body.AsSpan(filled));
            filled += (int)available.Length;
            reader.AdvanceTo(available.End);
            if (filled < length && result.IsCompleted) throw new InvalidDataException("stream ended inside a frame");
            if (result.IsCanceled) throw new OperationCanceledException(cancellationToken);
        }
        try
        {
            return (fast is null ? null : fast(body.AsSpan(0, length))) ?? parser.ParseFrom(body.AsSpan(0, length));
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
