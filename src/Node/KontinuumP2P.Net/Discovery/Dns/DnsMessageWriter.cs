using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace KontinuumP2P.Net.Discovery.Dns;

/// <summary>
/// Encodes DNS messages with name compression (RFC 1035 §4.1.4) into at most a given number of bytes.
/// </summary>
internal sealed class DnsMessageWriter
{
    private const int MaxNameLength = 255;
    private const int MaxLabelLength = 63;
    private const int MaxPointerOffset = 0x3FFF;

    private readonly byte[] _buffer;
    private readonly Dictionary<string, int> _nameOffsets = new(StringComparer.OrdinalIgnoreCase);
    private int _length;

    private DnsMessageWriter(int maxLength) => _buffer = new byte[maxLength];

    /// <summary>Encodes <paramref name="message"/>.</summary>
    /// <param name="message">The message.</param>
    /// <param name="maxLength">Upper bound of the encoded size.</param>
    /// <exception cref="DnsFormatException">A name is invalid or the message exceeds <paramref name="maxLength"/>.</exception>
    public static byte[] Encode(DnsMessage message, int maxLength = DnsMessageReader.MaxMessageLength)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 12);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLength, DnsMessageReader.MaxMessageLength);
        var writer = new DnsMessageWriter(maxLength);
        writer.WriteUInt16(message.Id);
        writer.WriteUInt16(message.Flags);
        writer.WriteUInt16(checked((ushort)message.Questions.Count));
        writer.WriteUInt16(checked((ushort)message.Answers.Count));
        writer.WriteUInt16(checked((ushort)message.Authorities.Count));
        writer.WriteUInt16(checked((ushort)message.Additionals.Count));
        foreach (var question in message.Questions)
        {
            writer.WriteName(question.Name);
            writer.WriteUInt16((ushort)question.Type);
            writer.WriteUInt16(question.Class);
        }
        foreach (var record in message.Answers) writer.WriteRecord(record);
        foreach (var record in message.Authorities) writer.WriteRecord(record);
        foreach (var record in message.Additionals) writer.WriteRecord(record);
        return writer._buffer.AsSpan(0, writer._length).ToArray();
    }

    /// <summary>Splits a dotted name into labels, honouring <c>\.</c> and <c>\\</c> escapes.</summary>
    /// <exception cref="DnsFormatException">Empty labels, labels over 63 bytes, or a name over 255 bytes.</exception>
    public static IReadOnlyList<byte[]> SplitLabels(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var labels = new List<byte[]>();
        var text = name.EndsWith('.') && !name.EndsWith("\\.", StringComparison.Ordinal) ? name[..^1] : name;
        if (text.Length == 0) return labels;
        var current = new StringBuilder();
        var wireLength = 1;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && text[i] == '\\' && i + 1 < text.Length)
            {
                current.Append(text[++i]);
                continue;
            }
            if (i < text.Length && text[i] != '.')
            {
                current.Append(text[i]);
                continue;
            }
            var label = Encoding.UTF8.GetBytes(current.ToString());
            if (label.Length == 0) throw new DnsFormatException($"empty label in name '{name}'");
            if (label.Length > MaxLabelLength) throw new DnsFormatException($"label longer than 63 bytes in name '{name}'");
            wireLength += label.Length + 1;
            if (wireLength > MaxNameLength) throw new DnsFormatException($"name '{name}' longer than 255 bytes");
            labels.Add(label);
            current.Clear();
        }
        return labels;
    }

    private void WriteRecord(DnsRecord record)
    {
        WriteName(record.Name);
        WriteUInt16((ushort)record.Type);
        WriteUInt16(record.Class);
        WriteUInt32(record.Ttl);
        var lengthAt = _length;
        WriteUInt16(0);
        var dataStart = _length;
        switch (record)
        {
            case AddressDnsRecord address:
                var bytes = address.Address.GetAddressBytes();
                if (bytes.Length != (address.Address.AddressFamily == AddressFamily.InterNetworkV6 ? 16 : 4))
                    throw new DnsFormatException("unsupported address");
                WriteBytes(bytes);
                break;
            case NameDnsRecord named:
                WriteName(named.Target);
                break;
            case TxtDnsRecord txt:
                foreach (var s in txt.Strings)
                {
                    if (s.Length > 255) throw new DnsFormatException("TXT string longer than 255 bytes");
                    WriteByte((byte)s.Length);
                    WriteBytes(s);
                }
                break;
            case SrvDnsRecord srv:
                WriteUInt16(srv.Priority);
                WriteUInt16(srv.Weight);
                WriteUInt16(srv.Port);
                WriteName(srv.Target, compress: false); // RFC 2782: SRV targets are not compressed
                break;
            case UnknownDnsRecord unknown:
                WriteBytes(unknown.Data);
                break;
            default:
                throw new DnsFormatException($"cannot encode {record.GetType().Name}");
        }
        var dataLength = _length - dataStart;
        if (dataLength > ushort.MaxValue) throw new DnsFormatException("record data longer than 65535 bytes");
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(lengthAt), (ushort)dataLength);
    }

    private void WriteName(string name, bool compress = true)
    {
        var labels = SplitLabels(name);
        for (var i = 0; i < labels.Count; i++)
        {
            var suffix = SuffixKey(labels, i);
            if (compress && _nameOffsets.TryGetValue(suffix, out var offset))
            {
                WriteUInt16((ushort)(0xC000 | offset));
                return;
            }
            if (compress && _length <= MaxPointerOffset) _nameOffsets[suffix] = _length;
            WriteByte((byte)labels[i].Length);
            WriteBytes(labels[i]);
        }
        WriteByte(0);
    }

    private static string SuffixKey(IReadOnlyList<byte[]> labels, int from)
    {
        // Length-prefixed labels make the key unambiguous even when labels contain dots.
        var key = new StringBuilder();
        for (var i = from; i < labels.Count; i++) key.Append(labels[i].Length).Append(':').Append(Encoding.UTF8.GetString(labels[i]));
        return key.ToString();
    }

    private void Ensure(int count)
    {
        if (_length + count > _buffer.Length) throw new DnsFormatException($"message exceeds {_buffer.Length} bytes");
    }

    private void WriteByte(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
    }

    private void WriteUInt16(ushort value)
    {
        Ensure(2);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(_length), value);
        _length += 2;
    }

    private void WriteUInt32(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    private void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }
}
