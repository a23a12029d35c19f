namespace KontinuumP2P.Core.Codecs;

/// <summary>Base58 with the Bitcoin alphabet (base58btc), used for the legacy text form of PeerIds.</summary>
public static class Base58
{
    private const string Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    /// <summary>Longest text accepted by <see cref="Decode"/>; PeerIds are far shorter.</summary>
    public const int MaxTextLength = 512;

    /// <summary>Encodes bytes as base58btc text.</summary>
    public static string Encode(ReadOnlySpan<byte> data)
    {
        var zeros = 0;
        while (zeros < data.Length && data[zeros] == 0) zeros++;
        // log(256)/log(58) ≈ 1.366
        var size = (data.Length - zeros) * 138 / 100 + 1;
        Span<byte> digits = size <= 256 ? stackalloc byte[size] : new byte[size];
        var length = 0;
        for (var i = zeros; i < data.Length; i++)
        {
            int carry = data[i];
            var j = 0;
            for (var k = size - 1; (carry != 0 || j < length) && k >= 0; k--, j++)
            {
                carry += 256 * digits[k];
                digits[k] = (byte)(carry % 58);
                carry /= 58;
            }
            length = j;
        }
        var start = size - length;
        while (start < size && digits[start] == 0) start++;
        var chars = new char[zeros + size - start];
        for (var i = 0; i < zeros; i++) chars[i] = '1';
        for (var i = start; i < size; i++) chars[zeros + i - start] = Alphabet[digits[i]];
        return new string(chars);
    }

    /// <summary>Decodes base58btc text.</summary>
    /// <exception cref="FormatException">A character outside the alphabet, or text longer than <see cref="MaxTextLength"/>.</exception>
    public static byte[] Decode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxTextLength) throw new FormatException($"base58 text longer than {MaxTextLength} characters");
        var zeros = 0;
        while (zeros < text.Length && text[zeros] == '1') zeros++;
        var size = (text.Length - zeros) * 733 / 1000 + 1;
        Span<byte> bytes = stackalloc byte[size];
        var length = 0;
        for (var i = zeros; i < text.Length; i++)
        {
            var digit = Alphabet.IndexOf(text[i], StringComparison.Ordinal);
            if (digit < 0) throw new FormatException($"'{text[i]}' is not a base58btc character");
            var carry = digit;
            var j = 0;
            for (var k = size - 1; (carry != 0 || j < length) && k >= 0; k--, j++)
            {
                carry += 58 * bytes[k];
                bytes[k] = (byte)(carry & 0xff);
                carry >>= 8;
            }
            length = j;
        }
        var start = size - length;
        while (start < size && bytes[start] == 0) start++;
        var result = new byte[zeros + size - start];
        bytes[start..].CopyTo(result.AsSpan(zeros));
        return result;
    }
}
