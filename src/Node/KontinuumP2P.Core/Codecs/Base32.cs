namespace KontinuumP2P.Core.Codecs;

/// <summary>RFC 4648 base32, lower case, no padding: the multibase <c>b</c> encoding used by CIDs.</summary>
public static class Base32
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>Encodes bytes as lower-case unpadded base32.</summary>
    public static string Encode(ReadOnlySpan<byte> data)
    {
        var chars = new char[(data.Length * 8 + 4) / 5];
        int buffer = 0, bits = 0, n = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[n++] = Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }
        if (bits > 0) chars[n++] = Alphabet[(buffer << (5 - bits)) & 31];
        return new string(chars, 0, n);
    }

    /// <summary>Decodes base32 text (either case, padding optional).</summary>
    /// <exception cref="FormatException">A character outside the alphabet.</exception>
    public static byte[] Decode(ReadOnlySpan<char> text)
    {
        text = text.TrimEnd('=');
        var result = new byte[text.Length * 5 / 8];
        int buffer = 0, bits = 0, n = 0;
        foreach (var c in text)
        {
            var lower = char.ToLowerInvariant(c);
            var value = Alphabet.IndexOf(lower, StringComparison.Ordinal);
            if (value < 0) throw new FormatException($"'{c}' is not a base32 character");
            buffer = (buffer << 5) | value;
            bits += 5;
            if (bits >= 8)
            {
                result[n++] = (byte)(buffer >> (bits - 8));
                bits -= 8;
            }
        }
        return result;
    }
}
