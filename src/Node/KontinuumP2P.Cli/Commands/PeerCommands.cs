using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Transports;
using KontinuumP2P.Node.Composition;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum peer listen|ping</c>: a plain libp2p host (TCP, Noise, Yamux, identify, ping, echo).</summary>
internal static class PeerCommands
{
    private const string DefaultListen = "/ip4/127.0.0.1/tcp/0";
    private static readonly TimeSpan IdentifyWait = TimeSpan.FromSeconds(5);

    /// <summary>Builds the <c>peer</c> command group.</summary>
    public static Command Create()
    {
        var peer = new Command("peer", "Run or probe a libp2p host (TCP + Noise + Yamux, identify, ping)");
        peer.Subcommands.Add(CreateListen());
        peer.Subcommands.Add(CreatePing());
        peer.Subcommands.Add(DiscoverCommand.Create());
        return peer;
    }

    private static Command CreateListen()
    {
        var listen = new Option<string[]>("--listen") { Description = $"Multiaddr to listen on; repeatable (default {DefaultListen})" };
        var network = new Option<string>("--network")
        {
            Description = "open (plain libp2p, no admission) or mainnet (admission not enforced yet)",
            DefaultValueFactory = _ => "mainnet",
        };
        var duration = new Option<double?>("--duration") { Description = "Seconds to stay up (default: until Ctrl+C)" };
        var json = new Option<bool>("--json") { Description = "Print JSON only" };
        var verbose = CliServices.VerboseOption();
        var mdns = DiscoverCommand.CreateMdnsOption();
        var command = new Command("listen", "Listen and serve identify, ping (and echo outside mainnet) until stopped")
        {
            listen, network, mdns, duration, json, verbose,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            using var services = new CliServices(parseResult.GetValue(verbose));
            return await ListenAsync(parseResult, parseResult.GetValue(listen) is { Length: > 0 } given ? given : [DefaultListen],
                parseResult.GetValue(network) ?? "mainnet", parseResult.GetValue(mdns), parseResult.GetValue(duration),
                parseResult.GetValue(json), services, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static Command CreatePing()
    {
        var address = new Argument<string>("MA") { Description = "The peer's multiaddr, e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…" };
        var count = new Option<int>("--count", "-c") { Description = "Number of pings", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "Print JSON only" };
        var verbose = CliServices.VerboseOption();
        var command = new Command("ping", "Connect, identify and ping a peer") { address, count, json, verbose };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            using var services = new CliServices(parseResult.GetValue(verbose));
            return await PingAsync(parseResult, parseResult.GetValue(address)!, parseResult.GetValue(count), parseResult.GetValue(json),
                services, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> ListenAsync(ParseResult parseResult, string[] listenTexts, string network, bool useMdns,
        double? durationSeconds, bool json, CliServices services, CancellationToken cancellationToken)
    {
        var addresses = new List<Multiaddr>();
        foreach (var text in listenTexts)
        {
            if (ParseAddress(text, out var reason) is not { } address) return InvalidAddress(parseResult, "--listen", text, reason);
            if (!new TcpTransport().CanListen(address)) return CliOutput.Fail(parseResult, $"--listen: cannot listen on '{text}' (expected /ip4|ip6/<ip>/tcp/<port>)", ExitCodes.InvalidInput);
            addresses.Add(address);
        }
        if (network is not ("open" or "mainnet"))
            return CliOutput.Fail(parseResult, $"--network: '{network}' is not supported yet: genesis-file networks and admission arrive with the node; use 'open' or 'mainnet'", ExitCodes.InvalidInput);
        if (durationSeconds is <= 0) return CliOutput.Fail(parseResult, "--duration: must be a positive number of seconds", ExitCodes.InvalidInput);
        if (network == "mainnet" && !json)
            parseResult.InvocationConfiguration.Error.WriteLine("note: mainnet admission (certificates) is not enforced yet; running as a plain libp2p host");

        using var identity = Ed25519Identity.Generate();
        var host = HostNodeTransport.CreateHost(identity, [new TcpTransport(loggerFactory: services.Loggers)], addresses, services.Node);
        await using (host.ConfigureAwait(false))
        {
            if (network != "mainnet") host.SetHandler(EchoProtocol.Id, new EchoProtocol());
            try
            {
                await host.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
            {
                return CliOutput.Fail(parseResult, $"--listen: {e.Message}");
            }
            IAsyncDisposable? discovery = null;
            try
            {
                if (useMdns)
                {
                    discovery = DiscoverCommand.AttachMdns(host, loggerFactory: services.Loggers,
                        networkFingerprint: network == "mainnet" ? KontinuumP2P.Node.Networks.Mainnet.Definition.GenesisFingerprint : null);
                }
            }
            catch (System.Net.Sockets.SocketException e)
            {
                return CliOutput.Fail(parseResult, $"--mdns: {e.Message}");
            }
            await using var discoveryScope = (discovery ?? NoDiscovery.Instance).ConfigureAwait(false);
            var full = host.ListenAddresses.Select(a => a.WithPeerId(host.PeerId).ToString()).ToList();
            if (json)
                CliOutput.WriteJsonLine(parseResult, new JsonObject { ["peerId"] = host.PeerId.ToString(), ["listenAddrs"] = CliOutput.Strings(full) });
            else
                CliOutput.WriteLine(parseResult, $"peer id {host.PeerId}\n" + string.Join('\n', full.Select(a => "listening on " + a)));
            try
            {
                var wait = durationSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : Timeout.InfiniteTimeSpan;
                await Task.Delay(wait, host.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C or SIGTERM: a normal way to stop.
            }
        }
        return ExitCodes.Success;
    }

    private static async Task<int> PingAsync(ParseResult parseResult, string addressText, int count, bool json,
        CliServices services, CancellationToken cancellationToken)
    {
        if (ParseAddress(addressText, out var reason) is not { } address) return InvalidAddress(parseResult, "MA", addressText, reason);
        var transport = new TcpTransport(loggerFactory: services.Loggers);
        if (!transport.CanDial(address)) return CliOutput.Fail(parseResult, $"MA: cannot dial '{addressText}' (expected /ip4|ip6/<ip>/tcp/<port>[/p2p/<id>])", ExitCodes.InvalidInput);
        if (count is < 1 or > 10_000) return CliOutput.Fail(parseResult, $"--count: {count} is out of range (1..10000)", ExitCodes.InvalidInput);

        using var identity = Ed25519Identity.Generate();
        var host = HostNodeTransport.CreateHost(identity, [transport], [], services.Node);
        await using (host.ConfigureAwait(false))
        {
            try
            {
                var identified = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                host.PeerIdentified += (_, _) => identified.TrySetResult();
                var connection = await host.DialAsync(address, cancellationToken).ConfigureAwait(false);
                await WaitQuietlyAsync(identified.Task, host.TimeProvider, cancellationToken).ConfigureAwait(false);
                var rtts = await PingProtocol.PingAsync(host, connection.RemotePeer, count, cancellationToken).ConfigureAwait(false);
                var info = host.PeerStore.Get(connection.RemotePeer);
                var protocols = info?.Protocols.Order(StringComparer.Ordinal).ToList() ?? [];
                if (json)
                {
                    CliOutput.WriteJsonLine(parseResult, new JsonObject
                    {
                        ["peerId"] = connection.RemotePeer.ToString(),
                        ["agentVersion"] = info?.AgentVersion,
                        ["protocols"] = CliOutput.Strings(protocols),
                        ["rttMs"] = new JsonArray([.. rtts.Select(r => (JsonNode?)JsonValue.Create(Math.Round(r.TotalMilliseconds, 3)))]),
                    });
                }
                else
                {
                    CliOutput.WriteLine(parseResult, $"peer {connection.RemotePeer} ({info?.AgentVersion ?? "unknown agent"})");
                    foreach (var rtt in rtts) CliOutput.WriteLine(parseResult, $"ping: rtt {rtt.TotalMilliseconds:0.###} ms");
                }
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is IOException or TimeoutException or ProtocolNotSupportedException or InvalidDataException
                                          or System.Net.Sockets.SocketException)
            {
                return CliOutput.Fail(parseResult, $"ping {addressText}: {e.Message}");
            }
        }
    }

    private static Multiaddr? ParseAddress(string text, out string reason)
    {
        reason = "";
        try
        {
            return Multiaddr.Parse(text);
        }
        catch (FormatException e)
        {
            reason = e.Message;
            return null;
        }
    }

    private static int InvalidAddress(ParseResult parseResult, string what, string text, string reason) =>
        CliOutput.Fail(parseResult, $"{what}: '{text}' is not a valid multiaddr ({reason})", ExitCodes.InvalidInput);

    private static async Task WaitQuietlyAsync(Task task, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(IdentifyWait, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A peer without identify can still be pinged; its fields stay empty.
        }
    }

    /// <summary>Stands in for mDNS when it is off, so one <c>await using</c> covers both cases.</summary>
    private sealed class NoDiscovery : IAsyncDisposable
    {
        public static readonly NoDiscovery Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
