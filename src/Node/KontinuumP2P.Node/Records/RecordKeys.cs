using System.Text;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Node.Records;

/// <summary>
/// DHT keys of the Kontinuum namespaces. Keys are UTF-8 text so operators can type them:
/// <c>/node/&lt;base58 peer id&gt;</c> and <c>/crl/&lt;hex Tier 0 public key&gt;</c>.
/// </summary>
public static class RecordKeys
{
    /// <summary>Namespace of node records.</summary>
    public const string NodeNamespace = "node";

    /// <summary>Namespace of CRLs.</summary>
    public const string CrlNamespace = "crl";

    /// <summary>The key of a node's record.</summary>
    public static byte[] ForNode(PeerId node) => Encoding.UTF8.GetBytes($"/{NodeNamespace}/{node}");

    /// <summary>The key of the CRL published under one anchor key.</summary>
    public static byte[] ForCrl(ReadOnlySpan<byte> anchorPublicKey) =>
        Encoding.UTF8.GetBytes($"/{CrlNamespace}/{Convert.ToHexStringLower(anchorPublicKey)}");

    /// <summary>The peer id a node-record key names, or null when the key is not one.</summary>
    public static PeerId? ParseNodeKey(ReadOnlySpan<byte> key)
    {
        var text = Suffix(key, NodeNamespace);
        return text is not null && PeerId.TryParse(text, out var peer) ? peer : null;
    }

    /// <summary>The anchor key a CRL key names, or null when the key is not one.</summary>
    public static byte[]? ParseCrlKey(ReadOnlySpan<byte> key)
    {
        var text = Suffix(key, CrlNamespace);
        if (text is null || text.Length != 64) return null;
        try
        {
            return Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string? Suffix(ReadOnlySpan<byte> key, string ns)
    {
        if (key.Length > 256) return null;
        var text = Encoding.UTF8.GetString(key);
        var prefix = $"/{ns}/";
        return text.StartsWith(prefix, StringComparison.Ordinal) ? text[prefix.Length..] : null;
    }
}
