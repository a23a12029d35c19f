using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Node.Configuration;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum node status</c>: asks a running node's <c>/status</c> endpoint and prints the answer.</summary>
internal static class NodeStatusCommand
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var config = NodeRunCommand.ConfigOption();
        var address = new Option<string>("--metrics-address") { Description = "HOST:PORT of the node's metrics endpoint (instead of reading metrics.listen from --config)" };
        var json = new Option<bool>("--json") { Description = "Print the status object as JSON only" };
        var command = new Command("status", "Show the status of the node running with this configuration") { config, address, json };
        command.SetAction((pr, ct) => RunAsync(pr, pr.GetValue(config)!, pr.GetValue(address), pr.GetValue(json), ct));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult pr, string configPath, string? address, bool json, CancellationToken cancellationToken)
    {
        IPEndPoint endpoint;
        if (address is not null)
        {
            if (!IPEndPoint.TryParse(address, out var parsed) || parsed.Port == 0 || !address.Contains(':', StringComparison.Ordinal))
                return CliOutput.Fail(pr, $"--metrics-address: '{address}' is not HOST:PORT (e.g. 127.0.0.1:9464)", ExitCodes.InvalidInput);
            endpoint = parsed;
        }
        else
        {
            try
            {
                endpoint = NodeConfigResolver.MetricsEndpoint(NodeConfigLoader.Load(configPath))
                    ?? throw new NodeConfigException("metrics.enabled", $"{configPath}: metrics.enabled is false: the node serves no status");
            }
            catch (NodeConfigException e)
            {
                return CliOutput.Fail(pr, e.Message, ExitCodes.InvalidInput);
            }
        }
        var host = endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]" : endpoint.Address.ToString();
        var url = new Uri($"http://{host}:{endpoint.Port}/status");
        JsonObject status;
        try
        {
            using var http = new HttpClient { Timeout = RequestTimeout };
            var text = await http.GetStringAsync(url, cancellationToken).ConfigureAwait(false);
            status = JsonNode.Parse(text) as JsonObject ?? throw new JsonException("not a JSON object");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException && !cancellationToken.IsCancellationRequested)
        {
            return CliOutput.Fail(pr, $"no node answers on {url}: {e.Message}");
        }
        if (json) CliOutput.WriteJsonLine(pr, status);
        else CliOutput.WriteLine(pr, Render(status));
        return ExitCodes.Success;
    }

    private static string Render(JsonObject s)
    {
        var text = new StringBuilder();
        void Row(string name, object? value) => text.Append(CultureInfo.InvariantCulture, $"{name,-16}{value}\n");
        Row("peer id", s["peerId"]);
        Row("network", s["network"]);
        Row("dht mode", s["dhtMode"]);
        Row("certified", s["certified"]);
        foreach (var address in s["listenAddrs"]?.AsArray() ?? []) Row("listening on", address);
        Row("uptime", $"{s["uptimeSeconds"]} s");
        Row("crl", $"#{s["crlNumber"]}{(s["crlStale"]?.GetValue<bool>() == true ? " (STALE)" : "")}{(s["crlFailClosed"]?.GetValue<bool>() == true ? " FAIL-CLOSED: new peers refused" : "")}");
        Row("record seq", s["recordSequence"]);
        Row("connections", s["connections"]);
        if (s["resources"] is JsonObject r) Row("resources", $"{r["streams"]}/{r["streamLimit"]} streams, {r["memory"]}/{r["memoryLimit"]} bytes reserved ([limits])");
        Row("routing table", $"{s["routingTableSize"]} peers");
        foreach (var entry in s["routingTable"]?.AsArray() ?? [])
            text.Append(CultureInfo.InvariantCulture, $"  {entry?["peerId"]}  {string.Join(' ', entry?["addrs"]?.AsArray().Select(a => a?.ToString()) ?? [])}\n");
        return text.ToString().TrimEnd('\n');
    }
}
