using System.Buffers;

namespace KontinuumP2P.Core.Codecs;

/// <summary>Unsigned LEB128 varints as multiformats defines them: minimal encoding, at most 9 bytes (63 bits).</summary>
public static class Varint
{
    /// <summary>The longest varint the multiformats spec allows.</summary>
    public const int MaxLength = 9;

    /// <summary>Number of bytes <paramref name="value"/> takes when encoded.</summary>
    public static int SizeOf(ulong value)
    {
        var n = 1;
        while (value >= 0x80) { value >>= 7; n++; }
        return n;
    }

    /// <summary>Writes <paramref name="value"/> into <paramref name="destination"/> and returns the byte count.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value needs more than 63 bits.</exception>
    public static int Write(Span<byte> destination, ulong value)
    {
        if (value > long.MaxValue) throw new ArgumentOutOfRangeException(nameof(value), "varints carry at most 63 bits");
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>Encodes <paramref name="value"/> into a new array.</summary>
    public static byte[] Encode(ulong value)
    {
        var buffer = new byte[SizeOf(value)];
        Write(buffer, value);
        return buffer;
    }

    /// <summary>Appends the encoding of <paramref name="value"/> to <paramref name="writer"/>.</summary>
    public static void Write(IBufferWriter<byte> writer, ulong value)
    {
        var span = writer.GetSpan(MaxLength);
        writer.Advance(Write(span, value));
    }

    /// <summary>Decodes a varint at the start of <paramref name="source"/>.</summary>
    /// <exception cref="FormatException">Truncated, non-minimal or longer than 9 bytes.</exception>
    public static ulong Read(ReadOnlySpan<byte> source, out int bytesRead)
    {
        var status = TryRead(source, out var value, out bytesRead);
        return status switch
        {
            VarintStatus.Ok => value,
            VarintStatus.NeedMoreData => throw new FormatException("truncated varint"),
            VarintStatus.NotMinimal => throw new FormatException("non-minimal varint encoding"),
            _ => throw new FormatException("varint longer than 9 bytes"),
        };
    }

    /// <summary>Tries to decode a varint; reports why it could not.</summary>
    public static VarintStatus TryRead(ReadOnlySpan<byte> source, out ulong value, out int bytesRead)
    {
        value = 0;
        bytesRead = 0;
        var shift = 0;
        for (var i = 0; i < source.Length; i++)
        {
            if (i == MaxLength) return VarintStatus.TooLong;
            var b = source[i];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                // A last byte of zero after others means the same number fits in fewer bytes.
                if (b == 0 && i > 0) return VarintStatus.NotMinimal;
                bytesRead = i + 1;
                return VarintStatus.Ok;
            }
            shift += 7;
        }
        return source.Length >= MaxLength ? VarintStatus.TooLong : VarintStatus.NeedMoreData;
    }

    /// <summary>Tries to decode a varint from a possibly multi-segment sequence.</summary>
    public static VarintStatus TryRead(in ReadOnlySequence<byte> source, out ulong value, out int bytesRead)
    {
        if (source.IsSingleSegment) return TryRead(source.FirstSpan, out value, out bytesRead);
        Span<byte> head = stackalloc byte[MaxLength];
        var n = (int)Math.Min(MaxLength, source.Length);
        source.Slice(0, n).CopyTo(head);
        return TryRead(head[..n], out value, out bytesRead);
    }
}

/// <summary>Outcome of decoding a varint.</summary>
public enum VarintStatus
{
    /// <summary>Decoded.</summary>
    Ok,
    /// <summary>The input ends inside the varint.</summary>
    NeedMoreData,
    /// <summary>The value was encoded with more bytes than needed.</summary>
    NotMinimal,
    /// <summary>More than 9 bytes.</summary>
    TooLong,
}
