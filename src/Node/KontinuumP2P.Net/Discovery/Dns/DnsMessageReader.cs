using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace KontinuumP2P.Net.Discovery.Dns;

/// <summary>
/// Decodes DNS messages with strict bounds: every count and length is checked against the bytes that remain before
/// anything is allocated, compression pointers may only point backwards (so they cannot loop), and names are limited to
/// 255 wire bytes and 63-byte labels. Anything else raises <see cref="DnsFormatException"/>.
/// </summary>
internal static class DnsMessageReader
{
    /// <summary>Largest message accepted (the DNS-over-TCP limit).</summary>
    public const int MaxMessageLength = 65535;
    /// <summary>Records of all sections together that one message may carry.</summary>
    public const int MaxRecords = 512;

    private const int HeaderLength = 12;
    private const int MinQuestionLength = 5;   // root name + type + class
    private const int MinRecordLength = 11;    // root name + type + class + ttl + rdlength
    private const int MaxNameLength = 255;
    private const int MaxLabelLength = 63;
    private const int MaxPointerJumps = 64;

    /// <summary>Decodes one message.</summary>
    /// <exception cref="DnsFormatException">The bytes are not a well-formed message within the bounds.</exception>
    public static DnsMessage Decode(ReadOnlySpan<byte> message)
    {
        if (message.Length > MaxMessageLength) throw new DnsFormatException($"message of {message.Length} bytes exceeds {MaxMessageLength}");
        if (message.Length < HeaderLength) throw new DnsFormatException("message shorter than the 12-byte header");
        var id = BinaryPrimitives.ReadUInt16BigEndian(message);
        var flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        int questionCount = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int answerCount = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        int authorityCount = BinaryPrimitives.ReadUInt16BigEndian(message[8..]);
        int additionalCount = BinaryPrimitives.ReadUInt16BigEndian(message[10..]);

        // Refuse counts the remaining bytes cannot possibly hold before sizing any list by them.
        var recordCount = answerCount + authorityCount + additionalCount;
        if (questionCount + recordCount > MaxRecords) throw new DnsFormatException($"more than {MaxRecords} questions and records");
        if ((long)questionCount * MinQuestionLength + (long)recordCount * MinRecordLength > message.Length - HeaderLength)
            throw new DnsFormatException("section counts exceed the message length");

        var position = HeaderLength;
        var questions = new DnsQuestion[questionCount];
        for (var i = 0; i < questionCount; i++)
        {
            var name = ReadName(message, ref position);
            var fixedPart = Slice(message, position, 4);
            questions[i] = new DnsQuestion(
                name, (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(fixedPart), BinaryPrimitives.ReadUInt16BigEndian(fixedPart[2..]));
            position += 4;
        }
        var answers = ReadRecords(message, ref position, answerCount);
        var authorities = ReadRecords(message, ref position, authorityCount);
        var additionals = ReadRecords(message, ref position, additionalCount);
        // Trailing bytes are tolerated (some stacks pad), as dns-packet does.
        return new DnsMessage(id, flags, questions, answers, authorities, additionals);
    }

    /// <summary>Decodes one message, or returns false with the reason when it is malformed.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> message, out DnsMessage? decoded, out string? error)
    {
        try
        {
            decoded = Decode(message);
            error = null;
            return true;
        }
        catch (DnsFormatException e)
        {
            decoded = null;
            error = e.Message;
            return false;
        }
    }

    private static DnsRecord[] ReadRecords(ReadOnlySpan<byte> message, ref int position, int count)
    {
        var records = new DnsRecord[count];
        for (var i = 0; i < count; i++) records[i] = ReadRecord(message, ref position);
        return records;
    }

    private static DnsRecord ReadRecord(ReadOnlySpan<byte> message, ref int position)
    {
        var name = ReadName(message, ref position);
        var fixedPart = Slice(message, position, 10);
        var type = BinaryPrimitives.ReadUInt16BigEndian(fixedPart);
        var @class = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[2..]);
        var ttl = BinaryPrimitives.ReadUInt32BigEndian(fixedPart[4..]);
        int dataLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[8..]);
        position += 10;
        var data = Slice(message, position, dataLength);
        var dataStart = position;
        var dataEnd = position + dataLength;
        position = dataEnd;
        switch ((DnsRecordType)type)
        {
            case DnsRecordType.A:
            case DnsRecordType.Aaaa:
                var expected = (DnsRecordType)type == DnsRecordType.A ? 4 : 16;
                if (dataLength != expected) throw new DnsFormatException($"address record with {dataLength} data bytes, expected {expected}");
                return new AddressDnsRecord(name, @class, ttl, new IPAddress(data));
            case DnsRecordType.Ptr:
            case DnsRecordType.Cname:
                var cursor = dataStart;
                var target = ReadName(message, ref cursor);
                if (cursor != dataEnd) throw new DnsFormatException("name record data length does not match its name");
                return new NameDnsRecord(name, @class, ttl, (DnsRecordType)type, target);
            case DnsRecordType.Txt:
                return new TxtDnsRecord(name, @class, ttl, ReadCharacterStrings(data));
            case DnsRecordType.Srv:
                if (dataLength < 7) throw new DnsFormatException("SRV data shorter than 7 bytes");
                var srvCursor = dataStart + 6;
                var srvTarget = ReadName(message, ref srvCursor);
                if (srvCursor != dataEnd) throw new DnsFormatException("SRV data length does not match its target");
                return new SrvDnsRecord(name, @class, ttl, BinaryPrimitives.ReadUInt16BigEndian(data),
                    BinaryPrimitives.ReadUInt16BigEndian(data[2..]), BinaryPrimitives.ReadUInt16BigEndian(data[4..]), srvTarget);
            default:
                return new UnknownDnsRecord(name, @class, ttl, type, data.ToArray());
        }
    }

    private static byte[][] ReadCharacterStrings(ReadOnlySpan<byte> data)
    {
        // First pass counts the strings so the array is sized by validated data, not by a claim.
        var count = 0;
        for (var i = 0; i < data.Length; i += 1 + data[i])
        {
            if (i + 1 + data[i] > data.Length) throw new DnsFormatException("TXT string runs past its record");
            count++;
        }
        var strings = new byte[count][];
        for (int i = 0, n = 0; i < data.Length; i += 1 + data[i]) strings[n++] = data.Slice(i + 1, data[i]).ToArray();
        return strings;
    }

    /// <summary>Reads a possibly compressed name starting at <paramref name="position"/> and advances past it.</summary>
    internal static string ReadName(ReadOnlySpan<byte> message, ref int position)
    {
        var builder = new StringBuilder();
        var cursor = position;
        var wireLength = 1; // the terminating root label
        var jumps = 0;
        var endOfName = -1; // where the caller continues: after the first pointer or the root label
        var lowestAllowed = position; // pointers must go strictly before every label read so far
        while (true)
        {
            if (cursor >= message.Length) throw new DnsFormatException("name runs past the end of the message");
            var length = message[cursor];
            switch (length & 0xC0)
            {
                case 0x00:
                    if (length == 0)
                    {
                        position = endOfName >= 0 ? endOfName : cursor + 1;
                        return builder.ToString();
                    }
                    wireLength += length + 1;
                    if (wireLength > MaxNameLength) throw new DnsFormatException($"name longer than {MaxNameLength} bytes");
                    var label = Slice(message, cursor + 1, length);
                    if (builder.Length > 0) builder.Append('.');
                    AppendLabel(builder, label);
                    cursor += 1 + length;
                    break;
                case 0xC0:
                    if (cursor + 1 >= message.Length) throw new DnsFormatException("truncated compression pointer");
                    var target = ((length & 0x3F) << 8) | message[cursor + 1];
                    if (target >= lowestAllowed) throw new DnsFormatException("compression pointer does not point backwards");
                    if (++jumps > MaxPointerJumps) throw new DnsFormatException("too many compression pointers");
                    if (endOfName < 0) endOfName = cursor + 2;
                    lowestAllowed = target;
                    cursor = target;
                    break;
                default:
                    throw new DnsFormatException($"unsupported label type 0x{length & 0xC0:x2}");
            }
        }
    }

    private static void AppendLabel(StringBuilder builder, ReadOnlySpan<byte> label)
    {
        if (label.Length > MaxLabelLength) throw new DnsFormatException("label longer than 63 bytes");
        var text = Encoding.UTF8.GetString(label);
        // Dots and backslashes inside a label are escaped so the dotted form stays unambiguous (RFC 4343 style).
        foreach (var c in text)
        {
            if (c is '.' or '\\') builder.Append('\\');
            builder.Append(c);
        }
    }

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> message, int start, int length)
    {
        if (start < 0 || length < 0 || start > message.Length - length) throw new DnsFormatException("field runs past the end of the message");
        return message.Slice(start, length);
    }
}
