using System.Buffers;
using System.Text;
using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Net.Negotiation;

/// <summary>
/// The framing of multistream-select 1.0: <c>varint(len) ‖ UTF-8 text ‖ '\n'</c>, where the length counts the newline,
/// is at most <see cref="MaxLength"/> and takes at most two varint bytes.
/// </summary>
internal static class MultistreamMessage
{
    /// <summary>Largest message accepted or sent, newline included (js uses the same bound).</summary>
    public const int MaxLength = 1024;

    /// <summary>Longest length prefix accepted: two varint bytes cover every length up to 16383.</summary>
    public const int MaxPrefixLength = 2;

    /// <summary>Appends one message carrying <paramref name="text"/> without flushing.</summary>
    /// <exception cref="ArgumentException">The text holds a newline or is too long.</exception>
    public static void Write(IBufferWriter<byte> writer, string text)
    {
        if (text.Contains('\n')) throw new ArgumentException("a multistream message cannot contain a newline", nameof(text));
        var length = Encoding.UTF8.GetByteCount(text) + 1;
        if (length > MaxLength) throw new ArgumentException($"'{text}' is longer than the {MaxLength}-byte multistream limit", nameof(text));
        Varint.Write(writer, (ulong)length);
        var span = writer.GetSpan(length);
        var written = Encoding.UTF8.GetBytes(text, span);
        span[written] = (byte)'\n';
        writer.Advance(length);
    }

    /// <summary>
    /// Parses one message from the start of <paramref name="buffer"/> and advances past it; false when more bytes are
    /// needed. <paramref name="body"/> is the raw message including its final newline.
    /// </summary>
    /// <exception cref="InvalidDataException">Prefix over two bytes, message over the cap, or no final newline.</exception>
    public static bool TryParse(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> body)
    {
        body = default;
        var status = Varint.TryRead(buffer, out var length, out var prefix);
        if (status == VarintStatus.NeedMoreData)
        {
            if (buffer.Length >= MaxPrefixLength) throw new InvalidDataException("multistream length prefix longer than 2 bytes");
            return false;
        }
        if (status != VarintStatus.Ok) throw new InvalidDataException($"malformed multistream length prefix ({status})");
        if (prefix > MaxPrefixLength) throw new InvalidDataException("multistream length prefix longer than 2 bytes");
        if (length > MaxLength) throw new InvalidDataException($"multistream message of {length} bytes exceeds the {MaxLength}-byte limit");
        if (length == 0) throw new InvalidDataException("empty multistream message (missing newline)");
        if (buffer.Length - prefix < (long)length) return false;
        body = buffer.Slice(prefix, (long)length);
        if (body.Slice(body.Length - 1).FirstSpan[0] != (byte)'\n') throw new InvalidDataException("multistream message does not end with a newline");
        buffer = buffer.Slice(prefix + (long)length);
        return true;
    }

    /// <summary>
    /// Parses one message and decodes its text without the newline (trailing whitespace trimmed, as js compares);
    /// false when more bytes are needed.
    /// </summary>
    /// <exception cref="InvalidDataException">As <see cref="TryParse(ref ReadOnlySequence{byte}, out ReadOnlySequence{byte})"/>, or text that is not UTF-8.</exception>
    public static bool TryParseText(ref ReadOnlySequence<byte> buffer, out string text)
    {
        text = string.Empty;
        if (!TryParse(ref buffer, out var body)) return false;
        try
        {
            text = Utf8Strict.GetString(body.Slice(0, body.Length - 1)).TrimEnd();
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException("multistream message is not UTF-8", e);
        }
        return true;
    }

    private static readonly UTF8Encoding Utf8Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
