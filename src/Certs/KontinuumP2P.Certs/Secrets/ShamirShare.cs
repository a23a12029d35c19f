using System.Security.Cryptography;
using System.Text;
using KontinuumP2P.Certs.Encoding;

namespace KontinuumP2P.Certs.Secrets;

/// <summary>
/// One Shamir share. Text form: <c>kontinuum-share-v1-SETID-K-X-PAYLOAD-CHECK</c> (hex fields), where CHECK is the first
/// 4 bytes of SHA-256 over everything before it — a typo is caught on parse; a deliberately altered share is caught on
/// combine by the tag hidden in the shared payload.
/// </summary>
/// <param name="SetId">Random id shared by the shares of one split.</param>
/// <param name="Threshold">Shares needed to combine.</param>
/// <param name="Index">The x coordinate, 1..255.</param>
/// <param name="Payload">The y values (secret length + 16-byte tag).</param>
public sealed record ShamirShare(uint SetId, int Threshold, int Index, ReadOnlyMemory<byte> Payload)
{
    private const string Prefix = "kontinuum-share-v1";

    /// <summary>Longest accepted share text.</summary>
    public const int MaxTextLength = 4096;

    /// <summary>The text form.</summary>
    public override string ToString()
    {
        var head = $"{Prefix}-{SetId:x8}-{Threshold}-{Index}-{Convert.ToHexStringLower(Payload.Span)}";
        return $"{head}-{Check(head)}";
    }

    /// <summary>Parses the text form.</summary>
    /// <exception cref="TrustFormatException">Malformed, or its checksum does not match (a typo or a damaged share).</exception>
    public static ShamirShare Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        if (text.Length > MaxTextLength) throw new TrustFormatException($"share is {text.Length} characters, over {MaxTextLength}");
        if (!text.StartsWith(Prefix + "-", StringComparison.Ordinal)) throw new TrustFormatException($"share does not start with '{Prefix}-'");
        var parts = text[(Prefix.Length + 1)..].Split('-');
        if (parts.Length != 5) throw new TrustFormatException("share must have 5 fields after the prefix: set id, threshold, index, payload, check");
        var head = text[..text.LastIndexOf('-')];
        if (!string.Equals(Check(head), parts[4], StringComparison.OrdinalIgnoreCase))
            throw new TrustFormatException("share checksum does not match: the share was mistyped or damaged");
        try
        {
            var setId = Convert.ToUInt32(parts[0], 16);
            var threshold = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            var index = int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
            if (threshold is < 2 or > 255) throw new TrustFormatException($"share threshold {threshold} is outside 2..255");
            if (index is < 1 or > 255) throw new TrustFormatException($"share index {index} is outside 1..255");
            var payload = Convert.FromHexString(parts[3]);
            if (payload.Length <= ShamirSecretSharing.TagLength) throw new TrustFormatException("share payload is too short");
            return new ShamirShare(setId, threshold, index, payload);
        }
        catch (FormatException e) when (e is not TrustFormatException)
        {
            throw new TrustFormatException($"share has a malformed field: {e.Message}", e);
        }
        catch (OverflowException e)
        {
            throw new TrustFormatException($"share has an out-of-range field: {e.Message}", e);
        }
    }

    private static string Check(string head) =>
        Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(head)).AsSpan(0, 4));
}
