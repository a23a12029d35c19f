using System.Text;
using System.Text.Json;

namespace KontinuumP2P.Testing.JsHarness;

/// <summary>A js connection as <c>peer.mjs</c> describes it.</summary>
public sealed record JsConnection(string ConnectionId, string PeerId, string RemoteAddr, string Direction, string Status,
    string? Multiplexer, string? Encryption);

/// <summary>What js learnt from identify about a peer.</summary>
public sealed record JsIdentify(string PeerId, IReadOnlyList<string> Protocols, IReadOnlyList<string> ListenAddrs,
    string? AgentVersion, string? ProtocolVersion, string? ObservedAddr);

/// <summary>Result of the js echo command: every stream's content was checked by js.</summary>
public sealed record JsEcho(int Streams, long Bytes, double Ms, double MaxStreamMs, double MbPerSec);

/// <summary>A peer and its addresses, as the js DHT reports it.</summary>
public sealed record JsPeerInfo(string PeerId, IReadOnlyList<string> Addrs);

/// <summary>A DHT value found by js, with the peers that answered a record.</summary>
public sealed record JsDhtValue(string Key, byte[] Value, string From, IReadOnlyList<JsPeerInfo> Holders);

/// <summary>Typed wrappers of the harness commands (see docs/interop.md for the wire form).</summary>
public sealed partial class JsPeer
{
    /// <summary>Dials a multiaddr (ending in <c>/p2p/&lt;id&gt;</c>) or reuses the open connection.</summary>
    public async Task<JsConnection> DialAsync(string address, CancellationToken cancellationToken) =>
        Read<JsConnection>(await SendAsync("dial", new { addr = address }, null, cancellationToken));

    /// <summary>The js connections, to one peer or all.</summary>
    public async Task<IReadOnlyList<JsConnection>> ConnectionsAsync(string? peerId, CancellationToken cancellationToken)
    {
        var reply = await SendAsync("connections", new { peer = peerId }, null, cancellationToken);
        return Read<List<JsConnection>>(reply.GetProperty("connections"));
    }

    /// <summary>Closes every js connection to a peer (js sends yamux GoAway and closes the socket).</summary>
    public Task HangUpAsync(string peerId, CancellationToken cancellationToken) =>
        SendAsync("hangUp", new { peer = peerId }, null, cancellationToken);

    /// <summary>Pings <paramref name="target"/> (a PeerId, or a multiaddr starting with '/') and returns the RTTs.</summary>
    public async Task<IReadOnlyList<double>> PingAsync(string target, int count, CancellationToken cancellationToken)
    {
        var reply = await SendAsync("ping", Target(target, new { count }), null, cancellationToken);
        return Read<List<double>>(reply.GetProperty("rttMs"));
    }

    /// <summary>The identify result js got from a peer; <paramref name="fresh"/> runs identify again.</summary>
    public async Task<JsIdentify> IdentifyAsync(string peerId, bool fresh, CancellationToken cancellationToken) =>
        Read<JsIdentify>(await SendAsync("identify", new { peer = peerId, fresh }, null, cancellationToken));

    /// <summary>Opens <paramref name="streams"/> concurrent echo streams of <paramref name="size"/> random bytes on one connection.</summary>
    public async Task<JsEcho> EchoAsync(string target, int streams, int size, TimeSpan timeout,
        CancellationToken cancellationToken) =>
        Read<JsEcho>(await SendAsync("echo", Target(target, new { streams, size }), timeout, cancellationToken));

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>; returns how many peers accepted it.</summary>
    public async Task<int> DhtPutAsync(string key, byte[] value, CancellationToken cancellationToken)
    {
        var reply = await SendAsync("dht.put", new { key, value = Convert.ToBase64String(value) }, null, cancellationToken);
        return reply.GetProperty("stored").GetInt32();
    }

    /// <summary>Looks a value up through the DHT (js includes its own copy when it has one).</summary>
    public async Task<JsDhtValue> DhtGetAsync(string key, CancellationToken cancellationToken)
    {
        var reply = await SendAsync("dht.get", new { key }, null, cancellationToken);
        var holders = reply.GetProperty("holders").EnumerateArray()
            .Select(h => new JsPeerInfo(h.GetProperty("peerId").GetString()!, [])).ToList();
        return new JsDhtValue(key, Convert.FromBase64String(reply.GetProperty("value").GetString()!),
            reply.GetProperty("from").GetString()!, holders);
    }

    /// <summary>Announces js as a provider of the CIDv1 (raw, sha2-256) of <paramref name="text"/>.</summary>
    public Task ProvideAsync(string text, CancellationToken cancellationToken) =>
        SendAsync("dht.provide", new { text }, null, cancellationToken);

    /// <summary>Providers of the CIDv1 (raw, sha2-256) of <paramref name="text"/>.</summary>
    public async Task<IReadOnlyList<JsPeerInfo>> ProvidersAsync(string text, CancellationToken cancellationToken)
    {
        var reply = await SendAsync("dht.providers", new { text }, null, cancellationToken);
        return Read<List<JsPeerInfo>>(reply.GetProperty("providers"));
    }

    /// <summary>Finds a peer's addresses through the DHT.</summary>
    public async Task<JsPeerInfo> FindPeerAsync(string peerId, CancellationToken cancellationToken) =>
        Read<JsPeerInfo>(await SendAsync("dht.findPeer", new { peer = peerId }, null, cancellationToken));

    /// <summary>Number of peers in the js routing table.</summary>
    public async Task<int> RoutingTableSizeAsync(CancellationToken cancellationToken) =>
        (await SendAsync("dht.routingTable", null, null, cancellationToken)).GetProperty("size").GetInt32();

    /// <summary>UTF-8 bytes of a <c>/test/</c> record value with its leading sequence number (the js selector's order).</summary>
    public static byte[] TestRecordValue(long sequence, string payload) => Encoding.UTF8.GetBytes($"{sequence} {payload}");

    private static Dictionary<string, object?> Target(string target, object extra)
    {
        var fields = JsonSerializer.SerializeToElement(extra, Json).EnumerateObject()
            .ToDictionary(p => p.Name, p => (object?)p.Value);
        fields[target.StartsWith('/') ? "addr" : "peer"] = target;
        return fields;
    }

    private static T Read<T>(JsonElement element) =>
        element.Deserialize<T>(Json) ?? throw new JsonException($"could not read {typeof(T).Name} from {element}");
}
