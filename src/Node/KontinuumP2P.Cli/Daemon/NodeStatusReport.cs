using System.Text.Json.Nodes;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Cli.Daemon;

/// <summary>
/// The JSON status of a running node, as served on <c>/status</c> and printed by <c>kontinuum node status</c>:
/// <c>{"peerId", "network", "listenAddrs", "dhtMode", "certified", "connections", "routingTableSize", "routingTable":
/// [{"peerId", "addrs"}], "crlNumber", "crlStale", "crlFailClosed", "recordSequence", "resources": {"streams", "streamLimit", "memory", "memoryLimit"}, "uptimeSeconds"}</c>.
/// </summary>
internal static class NodeStatusReport
{
    /// <summary>Takes a snapshot of <paramref name="node"/>.</summary>
    public static JsonObject Create(KontinuumNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var table = node.Dht.GetRoutingTable();
        return new JsonObject
        {
            ["peerId"] = node.PeerId.ToString(),
            ["network"] = node.Network.Name,
            ["listenAddrs"] = Strings(node.ListenAddresses.Select(a => a.WithPeerId(node.PeerId).ToString())),
            ["dhtMode"] = node.Dht.Options.Mode.ToString().ToLowerInvariant(),
            ["certified"] = node.HasCertificate,
            ["connections"] = node.Host is null ? 0 : node.Host.Connections.Where(c => !c.IsClosed).Select(c => c.RemotePeer).Distinct().Count(),
            ["routingTableSize"] = table.Count,
            ["routingTable"] = new JsonArray([.. table.Select(e => (JsonNode?)new JsonObject
            {
                ["peerId"] = e.PeerId.ToString(),
                ["addrs"] = Strings(e.Addresses.Select(a => a.ToString())),
            })]),
            ["crlNumber"] = node.CurrentCrl?.Body.CrlNumber ?? 0,
            ["crlStale"] = node.CrlIsStale,
            ["crlFailClosed"] = node.CrlFailClosed,
            ["recordSequence"] = node.RecordSequence,
            ["resources"] = Resources(node),
            ["uptimeSeconds"] = Math.Round((node.Services.TimeProvider.GetUtcNow() - node.StartedAt).TotalSeconds, 1),
        };
    }

    // The system scope's use against its [limits]: how close the node is to refusing streams or memory.
    private static JsonObject? Resources(KontinuumNode node) => node.Host is Net.Hosting.PeerHost { Resources.System: var system }
        ? new JsonObject
        {
            ["streams"] = system.Streams,
            ["streamLimit"] = system.Limits.Streams,
            ["memory"] = system.Memory,
            ["memoryLimit"] = system.Limits.Memory,
        }
        : null;

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);
}
