using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Daemon;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Net.Discovery.Bootstrap;
using KontinuumP2P.Node.Configuration;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// <c>kontinuum node run</c>: the node daemon. Reads <c>node.toml</c> (with <c>KONTINUUM__SECTION__KEY</c> overrides),
/// starts the node with discovery, serves <c>/metrics</c> and <c>/status</c> on loopback, logs to standard error, and on
/// SIGTERM or Ctrl+C stops cleanly (routing-table snapshot saved, store closed) with exit code 0.
/// </summary>
internal static partial class NodeRunCommand
{
    /// <summary>Where <c>node bootstrap</c> puts the configuration by default.</summary>
    public const string DefaultConfigPath = "/var/lib/kontinuum-node/config/node.toml";

    /// <summary>Adds <c>run</c> and <c>status</c> to the <c>node</c> group.</summary>
    public static void AddTo(Command node)
    {
        node.Subcommands.Add(Create());
        node.Subcommands.Add(NodeStatusCommand.Create());
    }

    /// <summary>The <c>--config</c> option shared with <c>node status</c>.</summary>
    public static Option<string> ConfigOption() =>
        new("--config", "-c") { Description = $"node.toml (default {DefaultConfigPath})", DefaultValueFactory = _ => DefaultConfigPath };

    private static Command Create()
    {
        var config = ConfigOption();
        var json = new Option<bool>("--json") { Description = "Print the first line as JSON only and log JSON lines (to standard error)" };
        var command = new Command("run", "Run the node: listen, discover, join the DHT, publish our record, keep CRLs fresh, serve metrics") { config, json };
        command.SetAction((pr, ct) => RunAsync(pr, pr.GetValue(config)!, pr.GetValue(json), ct));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult pr, string configPath, bool json, CancellationToken cancellationToken)
    {
        ResolvedNodeConfig resolved;
        try
        {
            // The one configuration path: node.toml and KONTINUUM__SECTION__KEY as IConfiguration sources, bound.
            var configuration = new ConfigurationBuilder().AddNodeToml(configPath).AddNodeEnvironment().Build();
            resolved = NodeConfigResolver.Resolve(NodeConfigBinder.Bind(configuration), configPath);
        }
        catch (NodeConfigException e)
        {
            return CliOutput.Fail(pr, e.Message, ExitCodes.InvalidInput);
        }
        using (resolved)
        {
            using var loggers = CreateLoggerFactory(resolved.LogLevel, json || resolved.JsonLogs);
            using var meters = new NodeMeterFactory();
            using var exporter = new PrometheusMeterExporter(meters);
            var logger = loggers.CreateLogger("KontinuumP2P.Cli.NodeRun");
            // The metrics address is bound first: a taken port fails here, before a node starts and joins for nothing.
            NodeStatusServer? status = null;
            if (resolved.MetricsEndpoint is { } endpoint)
            {
                try
                {
                    status = NodeStatusServer.Bind(exporter, endpoint, loggers);
                }
                catch (HttpListenerException e)
                {
                    return CliOutput.Fail(pr, $"metrics.listen: cannot serve on {endpoint}: {e.Message}");
                }
            }
            try
            {
                KontinuumNode node;
                try
                {
                    node = await new KontinuumNodeBuilder(resolved.Options).UseLoggerFactory(loggers).UseMeterFactory(meters)
                        .StartAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return CliOutput.Fail(pr, "stopped before the node was up");
                }
                catch (BootstrapConfigurationException e)
                {
                    return CliOutput.Fail(pr, $"network.extra_bootstrap_peers: {e.Message}", ExitCodes.InvalidInput);
                }
                catch (SocketException e)
                {
                    var where = string.Join(", ", resolved.Options.ListenAddresses);
                    return CliOutput.Fail(pr, resolved.Options.EnableMdns
                        ? $"network.listen ({where}) or network.mdns (UDP 5353): cannot bind: {e.Message}"
                        : $"network.listen ({where}): cannot bind: {e.Message}");
                }
                await using (node.ConfigureAwait(false))
                {
                    try
                    {
                        status?.Serve(node);
                        Announce(pr, node, json, status);
                        try
                        {
                            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            // SIGTERM or Ctrl+C: the normal way to stop.
                        }
                        LogStopping(logger, node.Dht.RoutingTableSize);
                    }
                    finally
                    {
                        // Requests in flight use the node: stop serving before it is disposed.
                        if (status is not null) await status.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }
            finally
            {
                if (status is not null) await status.DisposeAsync().ConfigureAwait(false);
            }
            LogStopped(logger);
        }
        return ExitCodes.Success;
    }

    private static void Announce(ParseResult pr, KontinuumNode node, bool json, NodeStatusServer? status)
    {
        var addresses = node.ListenAddresses.Select(a => a.WithPeerId(node.PeerId).ToString()).ToList();
        if (json)
        {
            CliOutput.WriteJsonLine(pr, new JsonObject
            {
                ["peerId"] = node.PeerId.ToString(),
                ["listenAddrs"] = CliOutput.Strings(addresses),
                ["network"] = node.Network.Name,
                ["metrics"] = status is null ? null : $"http://{status.Endpoint}/metrics",
            });
            return;
        }
        CliOutput.WriteLine(pr, $"peer id {node.PeerId} on network {node.Network.Name} (DHT {node.Dht.Options.Mode.ToString().ToLowerInvariant()})\n"
            + string.Join('\n', addresses.Select(a => "listening on " + a))
            + (status is null ? "" : $"\nmetrics and status on http://{status.Endpoint}/"));
    }

    private static ILoggerFactory CreateLoggerFactory(LogLevel level, bool json) => LoggerFactory.Create(logging =>
    {
        logging.SetMinimumLevel(level);
        // Logs go to standard error: standard output carries the first line that scripts read.
        logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
        if (json)
        {
            logging.AddJsonConsole(format =>
            {
                format.UseUtcTimestamp = true;
                format.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            logging.AddSimpleConsole(format =>
            {
                format.SingleLine = true;
                format.UseUtcTimestamp = true;
                format.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                format.ColorBehavior = LoggerColorBehavior.Disabled;
            });
        }
    });

    [LoggerMessage(Level = LogLevel.Information, Message = "stopping: saving the routing-table snapshot ({Peers} peers) and closing the store")]
    private static partial void LogStopping(ILogger logger, int peers);

    [LoggerMessage(Level = LogLevel.Information, Message = "stopped cleanly")]
    private static partial void LogStopped(ILogger logger);
}
