using System.Text.Json;
using System.Text.Json.Nodes;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Trust;

namespace KontinuumP2P.Certs.Ceremony;

/// <summary>
/// The human-edited anchors file (the genesis or compiled anchors):
/// <c>{"version":1,"certThreshold":3,"crlThreshold":3,"configThreshold":2,"anchors":[{"publicKey":"hex","label":"us-east"}]}</c>.
/// </summary>
public static class AnchorSetJson
{
    /// <summary>Largest anchors file read.</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>Parses the file text.</summary>
    /// <exception cref="TrustFormatException">Malformed JSON or fields.</exception>
    /// <exception cref="TrustConfigurationException">Unusable set (threshold 0, duplicate key …).</exception>
    public static AnchorSet Parse(string json)
    {
        if (json.Length > MaxLength) throw new TrustFormatException($"anchors file is over {MaxLength} characters");
        try
        {
            var root = JsonNode.Parse(json) as JsonObject ?? throw new TrustFormatException("anchors file is not a JSON object");
            var anchors = root["anchors"] as JsonArray ?? throw new TrustFormatException("anchors file has no \"anchors\" array");
            var list = new List<Anchor>();
            foreach (var item in anchors)
            {
                var hex = item?["publicKey"]?.GetValue<string>() ?? throw new TrustFormatException("an anchor has no \"publicKey\"");
                var key = Hex(hex, "publicKey");
                if (key.Length != 32) throw new TrustFormatException($"anchor publicKey {hex} is {key.Length} bytes, expected 32");
                list.Add(new Anchor(key, item["label"]?.GetValue<string>() ?? ""));
            }
            return new AnchorSet(Number(root, "version"), list, (int)Number(root, "certThreshold"), (int)Number(root, "crlThreshold"),
                (int)Number(root, "configThreshold"));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException and not TrustFormatException)
        {
            throw new TrustFormatException($"anchors file is malformed: {e.Message}", e);
        }
    }

    /// <summary>The file text.</summary>
    public static string Write(AnchorSet set)
    {
        var anchors = new JsonArray();
        foreach (var a in set.Anchors) anchors.Add(new JsonObject { ["publicKey"] = a.PublicKeyHex, ["label"] = a.Label, ["keyId"] = a.KeyId });
        return new JsonObject
        {
            ["version"] = set.Version,
            ["certThreshold"] = set.CertThreshold,
            ["crlThreshold"] = set.CrlThreshold,
            ["configThreshold"] = set.ConfigThreshold,
            ["anchors"] = anchors,
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Parses hex, naming <paramref name="field"/> in the error.</summary>
    /// <exception cref="TrustFormatException">Not hex.</exception>
    public static byte[] Hex(string hex, string field)
    {
        try
        {
            return Convert.FromHexString(hex.Trim());
        }
        catch (FormatException)
        {
            throw new TrustFormatException($"{field} '{hex}' is not hex");
        }
    }

    private static ulong Number(JsonObject root, string name)
    {
        var node = root[name] ?? throw new TrustFormatException($"anchors file has no \"{name}\"");
        var value = node.GetValue<long>();
        if (value is < 0 or > int.MaxValue) throw new TrustFormatException($"\"{name}\" {value} is out of range");
        return (ulong)value;
    }
}
