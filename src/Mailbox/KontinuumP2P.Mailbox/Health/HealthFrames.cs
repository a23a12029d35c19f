using System.IO.Pipelines;
using Google.Protobuf;
using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Mailbox.Health;

/// <summary>Length-prefixed protobuf frames of the health protocol; the length is checked before buffering.</summary>
internal static class HealthFrames
{
    /// <summary>Largest health frame (a signed alert with a certificate is the biggest).</summary>
    public const int MaxFrameLength = 12 * 1024;

    /// <summary>Reads one frame; null at a clean end of stream.</summary>
    /// <exception cref="InvalidDataException">Over the cap, malformed or truncated.</exception>
    public static async ValueTask<T?> ReadAsync<T>(PipeReader reader, MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = Varint.TryRead(buffer, out var length, out var prefix);
            if (status == VarintStatus.Ok)
            {
                if (length > MaxFrameLength)
                {
                    reader.AdvanceTo(buffer.Start);
                    throw new InvalidDataException($"health frame of {length} bytes exceeds {MaxFrameLength}");
                }
                if (buffer.Length - prefix >= (long)length)
                {
                    var body = buffer.Slice(prefix, (long)length);
                    try
                    {
                        return parser.ParseFrom(body);
                    }
                    catch (InvalidProtocolBufferException e)
                    {
                        throw new InvalidDataException($"invalid health frame: {e.Message}", e);
                    }
                    finally
                    {
                        reader.AdvanceTo(body.End);
                    }
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
                throw new InvalidDataException("stream ended inside a health frame");
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Writes one frame and flushes.</summary>
    public static async ValueTask WriteAsync(PipeWriter writer, IMessage message, CancellationToken cancellationToken)
    {
        Varint.Write(writer, (ulong)message.CalculateSize());
        message.WriteTo(writer);
        var flush = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flush.IsCompleted) throw new IOException("the remote stopped reading the health stream");
    }
}
