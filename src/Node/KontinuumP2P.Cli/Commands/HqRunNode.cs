using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Hq;
using KontinuumP2P.Hq.Provisioning;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Configuration;
using KontinuumP2P.Node.Hosting;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// HQ's libp2p node for <c>hq run</c>: the node.toml named by <c>hq.node_config</c>, composed by
/// <see cref="KontinuumNodeBuilder"/> with <see cref="HqNodeService"/> (alerts in, replacements, slot records out) and a
/// <see cref="LocalProcessProvisioner"/> that starts spares with this very program. Each event is one JSON line.
/// </summary>
internal sealed class HqRunNode : IAsyncDisposable
{
    private readonly ILoggerFactory _loggers;
    private readonly LocalProcessProvisioner _provisioner;
    private readonly ResolvedNodeConfig _resolved;
    private readonly Lock _gate = new();
    private readonly List<JsonObject> _pending = [];
    private ParseResult? _output;
    private KontinuumNode? _node;

    private HqRunNode(ILoggerFactory loggers, LocalProcessProvisioner provisioner, ResolvedNodeConfig resolved)
    {
        _loggers = loggers;
        _provisioner = provisioner;
        _resolved = resolved;
    }

    public KontinuumNode Node => _node ?? throw new InvalidOperationException("not started");

    public static async Task<HqRunNode> StartAsync(HqOptions options, HqService hq, CancellationToken cancellationToken)
    {
        var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(options.NodeConfig), options.NodeConfig);
        var loggers = LoggerFactory.Create(logging =>
        {
            logging.SetMinimumLevel(resolved.LogLevel);
            logging.AddSimpleConsole(format =>
            {
                format.SingleLine = true;
                format.UseUtcTimestamp = true;
            });
            logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
        });
        var (command, prefix) = ProvisionerCommand(options.Provisioning);
        var provisioner = new LocalProcessProvisioner(command, prefix, TimeSpan.FromSeconds(options.Provisioning.StartTimeoutSeconds));
        var run = new HqRunNode(loggers, provisioner, resolved);
        try
        {
            run._node = await new KontinuumNodeBuilder(resolved.Options).UseLoggerFactory(loggers)
                .AddService(node =>
                {
                    var service = new HqNodeService(node, hq, provisioner, new HqNodeOptions(TimeSpan.FromSeconds(options.TickSeconds), TimeSpan.FromSeconds(options.SlotRepublishSeconds)));
                    service.Changed += run.Write;
                    return service;
                })
                .StartAsync(cancellationToken).ConfigureAwait(false);
            return run;
        }
        catch
        {
            await run.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Called after the ready line: events held back until now are written, later ones at once.</summary>
    public void Ready(ParseResult pr)
    {
        lock (_gate)
        {
            _output = pr;
            foreach (var line in _pending) CliOutput.WriteJsonLine(pr, line);
            _pending.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_node is not null) await _node.DisposeAsync().ConfigureAwait(false);
        await _provisioner.DisposeAsync().ConfigureAwait(false);
        _resolved.Dispose();
        _loggers.Dispose();
    }

    private void Write(HqNodeEvent e)
    {
        var line = new JsonObject
        {
            ["event"] = e.Kind,
            ["slot"] = e.Slot,
            ["nodeId"] = e.NodeId,
            ["detail"] = e.Detail,
            ["at"] = e.At.ToUnixTimeMilliseconds(),
        };
        lock (_gate)
        {
            if (_output is null) _pending.Add(line);
            else CliOutput.WriteJsonLine(_output, line);
        }
    }

    // Spares run this very program unless hq.toml names another (`dotnet kontinuum.dll` when started through dotnet).
    private static (string Command, IReadOnlyList<string> Prefix) ProvisionerCommand(HqOptions.ProvisioningSection section)
    {
        if (section.Command.Length > 0) return (section.Command, section.Args);
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("provisioning.command: cannot tell which program this is; set it");
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? (process, [typeof(HqRunNode).Assembly.Location, .. section.Args])
            : (process, section.Args);
    }
}
