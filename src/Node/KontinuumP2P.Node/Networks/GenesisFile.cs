using System.Text.Json;
using System.Text.Json.Nodes;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;

namespace KontinuumP2P.Node.Networks;

/// <summary>
/// A private network's genesis file (JSON):
/// <c>{"network": "devnet", "protocolPrefix": "/kontinuum", "anchors": {…anchors file…}, "bootstrap": ["/ip4/…/p2p/…"]}</c>.
/// The <c>anchors</c> object has the format of the Tier 0 anchors file (see docs/trust.md).
/// </summary>
public static class GenesisFile
{
    /// <summary>Largest genesis file read.</summary>
    public const int MaxLength = 256 * 1024;

    /// <summary>Loads and validates a genesis file.</summary>
    /// <exception cref="NetworkDefinitionException">Unreadable, malformed or unusable; the message names the field.</exception>
    public static NetworkDefinition Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new NetworkDefinitionException($"genesis file '{path}' does not exist");
        if (info.Length > MaxLength) throw new NetworkDefinitionException($"genesis file '{path}' is over {MaxLength} bytes");
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (NetworkDefinitionException e)
        {
            throw new NetworkDefinitionException($"genesis file '{path}': {e.Message}", e);
        }
    }

    /// <summary>Parses genesis JSON text.</summary>
    /// <exception cref="NetworkDefinitionException">Malformed or unusable; the message names the field.</exception>
    public static NetworkDefinition Parse(string json)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new NetworkDefinitionException("not a JSON object");
        }
        catch (JsonException e)
        {
            throw new NetworkDefinitionException($"malformed JSON: {e.Message}", e);
        }
        var name = Text(root, "network");
        var prefix = root["protocolPrefix"] is null ? NetworkDefinition.DefaultProtocolPrefix : Text(root, "protocolPrefix");
        if (!prefix.StartsWith('/') || prefix.EndsWith('/') || prefix.Contains(' '))
            throw new NetworkDefinitionException($"\"protocolPrefix\" '{prefix}' must start with '/' and not end with one");
        if (root["anchors"] is not JsonObject anchorsNode) throw new NetworkDefinitionException("missing \"anchors\" object");
        AnchorSet anchors;
        try
        {
            anchors = AnchorSetJson.Parse(anchorsNode.ToJsonString());
        }
        catch (Exception e) when (e is TrustFormatException or TrustConfigurationException)
        {
            throw new NetworkDefinitionException($"\"anchors\": {e.Message}", e);
        }
        var bootstrap = new List<Multiaddr>();
        if (root["bootstrap"] is JsonArray list)
        {
            foreach (var item in list)
            {
                var text = item?.GetValueKind() == JsonValueKind.String ? item.GetValue<string>() : null;
                if (text is null || !Multiaddr.TryParse(text, out var address) || address!.PeerId is null)
                    throw new NetworkDefinitionException($"\"bootstrap\" entry {item?.ToJsonString()} is not a multiaddr ending in /p2p/<peer id>");
                bootstrap.Add(address);
            }
        }
        return new NetworkDefinition { Name = name, Anchors = anchors, BootstrapPeers = bootstrap, ProtocolPrefix = prefix };
    }

    /// <summary>Writes a genesis file's text.</summary>
    public static string Write(NetworkDefinition network)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (network.Anchors is null) throw new ArgumentException("only networks with anchors have a genesis file", nameof(network));
        var root = new JsonObject
        {
            ["network"] = network.Name,
            ["protocolPrefix"] = network.ProtocolPrefix,
            ["anchors"] = JsonNode.Parse(AnchorSetJson.Write(network.Anchors)),
            ["bootstrap"] = new JsonArray(network.BootstrapPeers.Select(a => (JsonNode?)JsonValue.Create(a.ToString())).ToArray()),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static string Text(JsonObject root, string field)
    {
        var node = root[field];
        if (node is null || node.GetValueKind() != JsonValueKind.String) throw new NetworkDefinitionException($"missing or non-text \"{field}\"");
        var value = node.GetValue<string>();
        if (value.Length is 0 or > 128) throw new NetworkDefinitionException($"\"{field}\" must have 1 to 128 characters");
        return value;
    }
}
