using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>Noise framing for libp2p: <c>&lt;u16 big-endian length&gt;&lt;message&gt;</c>, at most 65535 bytes per message.</summary>
internal static class NoiseFraming
{
    /// <summary>Bytes of the length prefix.</summary>
    public const int PrefixSize = 2;

    /// <summary>Largest message a frame can carry.</summary>
    public const int MaxMessageLength = ushort.MaxValue;

    /// <summary>Largest transport plaintext per frame (message minus the 16-byte tag): 65519.</summary>
    public const int MaxPlaintextLength = MaxMessageLength - CipherState.TagSize;

    /// <summary>
    /// Takes one complete frame off the front of <paramref name="buffer"/>; false (buffer untouched) while it is incomplete.
    /// </summary>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> message)
    {
        message = default;
        if (buffer.Length < PrefixSize) return false;
        int length;
        var first = buffer.FirstSpan;
        if (first.Length >= PrefixSize)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(first);
        }
        else
        {
            Span<byte> prefix = stackalloc byte[PrefixSize];
            buffer.Slice(0, PrefixSize).CopyTo(prefix);
            length = BinaryPrimitives.ReadUInt16BigEndian(prefix);
        }
        if (buffer.Length < PrefixSize + length) return false;
        message = buffer.Slice(PrefixSize, length);
        buffer = buffer.Slice(message.End);
        return true;
    }

    /// <summary>Reads one whole handshake message, leaving any bytes after it in the reader.</summary>
    /// <exception cref="HandshakeException">The connection ended before a whole frame arrived.</exception>
    public static async ValueTask<byte[]> ReadMessageAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryReadFrame(ref buffer, out var message))
            {
                var bytes = message.ToArray();
                input.AdvanceTo(buffer.Start);
                return bytes;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted) throw new HandshakeException("connection closed in the middle of the Noise handshake");
            if (result.IsCanceled) throw new OperationCanceledException("handshake read cancelled");
        }
    }

    /// <summary>Writes one handshake message as a frame and flushes.</summary>
    public static async ValueTask WriteMessageAsync(PipeWriter output, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        if (message.Length > MaxMessageLength) throw new HandshakeException("Noise message over 65535 bytes");
        var span = output.GetSpan(PrefixSize + message.Length);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)message.Length);
        message.Span.CopyTo(span[PrefixSize..]);
        output.Advance(PrefixSize + message.Length);
        var flush = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flush.IsCompleted) throw new HandshakeException("connection closed in the middle of the Noise handshake");
    }
}
