using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// How the CLI reaches a group's mailboxes: <c>GROUPDIR/network.json</c> keeps the <c>--network</c> value (mainnet or a
/// genesis file path) and the bootstrap multiaddrs (nothing secret), and each command runs a DHT client node on that
/// network to resolve the mailbox nodes and check their certificates.
/// </summary>
internal static class GroupConnection
{
    public const string FileName = "network.json";

    public static void Save(string directory, string network, IReadOnlyList<string> bootstrap)
    {
        var json = new JsonObject { ["network"] = network, ["bootstrap"] = CliOutput.Strings(bootstrap) };
        File.WriteAllText(Path.Combine(directory, FileName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    public static (string Network, List<string> Bootstrap) Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return (NetworkDefinition.MainnetName, []);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        return (json["network"]?.GetValue<string>() ?? NetworkDefinition.MainnetName,
            [.. json["bootstrap"]?.AsArray().Select(n => n!.GetValue<string>()) ?? []]);
    }

    /// <summary>Checks the network and bootstrap texts; returns an error message naming the bad one, or null.</summary>
    public static string? Validate(string network, IEnumerable<string> bootstrap, out NetworkDefinition? definition, out List<Multiaddr> addresses)
    {
        definition = null;
        addresses = [];
        foreach (var text in bootstrap)
        {
            Multiaddr address;
            try
            {
                address = Multiaddr.Parse(text);
            }
            catch (FormatException e)
            {
                return $"--bootstrap: '{text}' is not a valid multiaddr ({e.Message})";
            }
            if (address.PeerId is null) return $"--bootstrap: '{text}' must end with /p2p/<peer id>";
            addresses.Add(address);
        }
        if (network == NetworkDefinition.OpenName) return "--network: mailboxes are verified by Tier 0 certificates; the open network has none";
        try
        {
            definition = NetworkDefinition.Resolve(network);
        }
        catch (NetworkDefinitionException e)
        {
            return $"--network: {e.Message}";
        }
        return null;
    }

    /// <summary>Opens the group directory, starts a client node and runs <paramref name="body"/> with a group client.</summary>
    public static Task<int> RunAsync(ParseResult parseResult, string directory, Func<GroupClient, CancellationToken, Task<int>> body,
        CancellationToken cancellationToken, int? requiredAcks = null) =>
        RunWithNodeAsync(parseResult, directory, async (node, store, ct) =>
        {
            var client = node.CreateGroupClient(store, new GroupClientOptions { RequiredAcks = requiredAcks });
            await using (client.ConfigureAwait(false))
                return await body(client, ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>Opens the group directory and runs <paramref name="body"/> with a DHT client node on the group's network.</summary>
    /// <paramref name="configure"/> may change the node's options (an identity it sets stays the caller's to dispose).
    public static async Task<int> RunWithNodeAsync(ParseResult parseResult, string directory, Func<KontinuumNode, GroupStore, CancellationToken, Task<int>> body,
        CancellationToken cancellationToken, Action<KontinuumNodeOptions>? configure = null)
    {
        if (!GroupStore.Exists(directory)) return CliOutput.Fail(parseResult, $"--group: {directory} holds no group (run `kontinuum group create` or `group join`)", ExitCodes.InvalidInput);
        var (network, bootstrap) = Load(directory);
        if (Validate(network, bootstrap, out var definition, out var addresses) is { } problem)
            return CliOutput.Fail(parseResult, $"{Path.Combine(directory, FileName)}: {problem}", ExitCodes.InvalidInput);
        using var store = GroupStore.Open(directory);
        using var identity = Ed25519Identity.Generate();
        try
        {
            var node = await StartClientNodeAsync(identity, definition!, addresses, cancellationToken, configure).ConfigureAwait(false);
            await using (node.ConfigureAwait(false)) return await body(node, store, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or TimeoutException or InvalidDataException)
        {
            return CliOutput.Fail(parseResult, e.Message);
        }
    }

    /// <summary>A DHT client node of <paramref name="network"/> with a throwaway identity, for one command.</summary>
    public static Task<KontinuumNode> StartClientNodeAsync(Ed25519Identity identity, NetworkDefinition network, List<Multiaddr> bootstrap,
        CancellationToken cancellationToken, Action<KontinuumNodeOptions>? configure = null)
    {
        var options = new KontinuumNodeOptions
        {
            Identity = identity,
            Network = network,
            ExtraBootstrapPeers = bootstrap,
            DhtMode = DhtMode.Client,
        };
        configure?.Invoke(options);
        return KontinuumNode.StartAsync(options, cancellationToken);
    }

    public static JsonObject Cursors(IReadOnlyDictionary<string, MailboxPosition> cursors)
    {
        var json = new JsonObject();
        foreach (var (slot, position) in cursors) json[slot] = new JsonObject { ["cursor"] = position.Cursor, ["epoch"] = position.Epoch };
        return json;
    }
}
