using System.Buffers;
using System.Text;
using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Certs.Encoding;

/// <summary>
/// Writes the canonical body encoding: protobuf wire format restricted to one form. Fields are written in ascending
/// field number, scalars equal to zero and empty strings/bytes are omitted (the proto3 default rule), varints are
/// minimal, repeated fields appear in the order the caller sorted them. Being hand-written, the signed bytes never
/// depend on a protobuf library's choices; being protobuf, any proto3 parser can still read them.
/// </summary>
internal sealed class CanonicalWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public void Varint(int field, ulong value)
    {
        if (value == 0) return;
        Tag(field, 0);
        Raw(value);
    }

    public void Signed(int field, long value) => Varint(field, unchecked((ulong)value));

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty) return;
        Tag(field, 2);
        Raw((ulong)value.Length);
        _buffer.Write(value);
    }

    public void String(int field, string value) => Bytes(field, System.Text.Encoding.UTF8.GetBytes(value));

    /// <summary>Writes an embedded message, even when empty, when <paramref name="always"/> is set.</summary>
    public void Message(int field, Action<CanonicalWriter> write, bool always = false)
    {
        var inner = new CanonicalWriter();
        write(inner);
        var bytes = inner.ToArray();
        if (bytes.Length == 0 && !always) return;
        Tag(field, 2);
        Raw((ulong)bytes.Length);
        _buffer.Write(bytes);
    }

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    private void Tag(int field, int wireType) => Raw(((ulong)field << 3) | (uint)wireType);

    private void Raw(ulong value)
    {
        var span = _buffer.GetSpan(10);
        _buffer.Advance(Core.Codecs.Varint.Write(span, value));
    }
}
