using System.Buffers;
using System.Buffers.Binary;

namespace KontinuumP2P.Net.Muxing;

/// <summary>Yamux frame types (header byte 1).</summary>
internal enum YamuxFrameType : byte
{
    Data = 0,
    WindowUpdate = 1,
    Ping = 2,
    GoAway = 3,
}

/// <summary>Yamux header flags (header bytes 2-3).</summary>
[Flags]
internal enum YamuxFlags : ushort
{
    None = 0,
    Syn = 1,
    Ack = 2,
    Fin = 4,
    Rst = 8,
}

/// <summary>Codes carried in the length field of a GoAway frame.</summary>
public enum YamuxGoAwayCode : uint
{
    /// <summary>Normal termination.</summary>
    Normal = 0,

    /// <summary>The remote broke the protocol.</summary>
    ProtocolError = 1,

    /// <summary>An internal error of the sender.</summary>
    InternalError = 2,
}

/// <summary>
/// The fixed 12-byte yamux header, big-endian: version, type, flags, stream id, length. The type is kept as the raw
/// byte so that unknown types survive decoding and are rejected by the session, not by the codec.
/// </summary>
internal readonly record struct YamuxHeader(byte Version, YamuxFrameType Type, YamuxFlags Flags, uint StreamId, uint Length)
{
    /// <summary>Encoded size of every header.</summary>
    public const int Size = 12;

    /// <summary>The only protocol version defined.</summary>
    public const byte ProtocolVersion = 0;

    /// <summary>A version-0 header.</summary>
    public static YamuxHeader Create(YamuxFrameType type, YamuxFlags flags, uint streamId, uint length) =>
        new(ProtocolVersion, type, flags, streamId, length);

    /// <summary>Writes the 12 header bytes to the start of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        var header = destination[..Size];
        header[0] = Version;
        header[1] = (byte)Type;
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)Flags);
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], StreamId);
        BinaryPrimitives.WriteUInt32BigEndian(header[8..], Length);
    }

    /// <summary>Decodes a header from the first 12 bytes of <paramref name="source"/>.</summary>
    public static YamuxHeader Read(ReadOnlySpan<byte> source)
    {
        var header = source[..Size];
        return new YamuxHeader(header[0], (YamuxFrameType)header[1],
            (YamuxFlags)BinaryPrimitives.ReadUInt16BigEndian(header[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(header[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(header[8..]));
    }

    /// <summary>Decodes a header from the front of <paramref name="buffer"/> and slices it off, when 12 bytes are there.</summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out YamuxHeader header)
    {
        if (buffer.Length < Size)
        {
            header = default;
            return false;
        }
        var first = buffer.FirstSpan;
        if (first.Length >= Size)
        {
            header = Read(first);
        }
        else
        {
            Span<byte> scratch = stackalloc byte[Size];
            buffer.Slice(0, Size).CopyTo(scratch);
            header = Read(scratch);
        }
        buffer = buffer.Slice(Size);
        return true;
    }

    /// <summary>Writes the header straight into <paramref name="output"/>.</summary>
    public void WriteTo(System.IO.Pipelines.PipeWriter output)
    {
        Write(output.GetSpan(Size));
        output.Advance(Size);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Type}(v{Version}, flags {Flags}, id {StreamId}, length {Length})";
}
