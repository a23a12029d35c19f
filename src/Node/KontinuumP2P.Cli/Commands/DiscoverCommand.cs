using System.CommandLine;
using System.Net;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Discovery.Bootstrap;
using KontinuumP2P.Net.Discovery.Dns;
using KontinuumP2P.Net.Discovery.Mdns;
using KontinuumP2P.Net.Discovery;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Networks;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// <c>kontinuum peer discover [--mdns] [--network N] [--bootstrap MA]... [--timeout S] [--dns-server IP[:PORT]] [--json]</c>, and the
/// <c>--mdns</c> behaviour other commands (<c>peer listen</c>, <c>dht serve</c>) attach to their running host.
/// </summary>
internal static class DiscoverCommand
{
    /// <summary>Builds the <c>discover</c> command (meant to sit under <c>peer</c>).</summary>
    public static Command Create()
    {
        var mdns = CreateMdnsOption("Listen for peers announced by mDNS on the LAN (query only: this command announces nothing)");
        var bootstrap = new Option<string[]>("--bootstrap") { Description = "Bootstrap multiaddr to connect to; repeatable (/ip4, /ip6, /dns4, /dns6, /dns, /dnsaddr)" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to discover before exiting", DefaultValueFactory = _ => 10 };
        var dnsServer = new Option<string?>("--dns-server") { Description = "DNS server for /dns* and /dnsaddr, IP[:PORT] (default: /etc/resolv.conf)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per discovered peer: {peerId, addrs, source}" };
        var network = new Option<string>("--network")
        {
            Description = "Whose mDNS service to ask: open (the public _p2p._udp.local), mainnet, or a genesis file (that network's own service)",
            DefaultValueFactory = _ => NetworkDefinition.OpenName,
        };
        var verbose = CliServices.VerboseOption();
        var command = new Command("discover", "Find peers through mDNS and/or bootstrap addresses and print each once")
        {
            mdns, network, bootstrap, timeout, dnsServer, json, verbose,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            using var services = new CliServices(parseResult.GetValue(verbose));
            NetworkDefinition definition;
            try
            {
                definition = NetworkDefinition.Resolve(parseResult.GetValue(network)!);
            }
            catch (NetworkDefinitionException e)
            {
                return CliOutput.Fail(parseResult, e.Message, ExitCodes.InvalidInput);
            }
            return await DiscoverAsync(parseResult, parseResult.GetValue(mdns), definition.GenesisFingerprint, parseResult.GetValue(bootstrap) ?? [], parseResult.GetValue(timeout),
                parseResult.GetValue(dnsServer), parseResult.GetValue(json), services, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The <c>--mdns</c> switch, for commands that run a host (<c>peer listen</c>, <c>dht serve</c>).</summary>
    public static Option<bool> CreateMdnsOption(string? description = null) =>
        new("--mdns") { Description = description ?? "Announce this host and discover (and connect to) peers by mDNS on the LAN" };

    /// <summary>
    /// Adds mDNS to a started host: announces its listen addresses, and connects to every peer found through the host's
    /// normal dial path. <paramref name="onDiscovered"/> (optional) sees each discovered peer, e.g. to print it with
    /// <see cref="ToJson"/>. <paramref name="networkFingerprint"/> selects a Kontinuum network's own service name (null:
    /// the public <c>_p2p._udp.local</c>). Dispose the result before the host.
    /// </summary>
    /// <exception cref="System.Net.Sockets.SocketException">The mDNS port cannot be bound.</exception>
    public static IAsyncDisposable AttachMdns(IPeerHost host, Action<DiscoveredPeer>? onDiscovered = null, ILoggerFactory? loggerFactory = null,
        byte[]? networkFingerprint = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        var mdns = new MdnsService(host.PeerId, () => host.ListenAddresses, new MdnsOptions { NetworkFingerprint = networkFingerprint },
            timeProvider: host.TimeProvider, loggerFactory: loggerFactory);
        mdns.Start();
        var dialer = new DiscoveryDialer(host, mdns, loggerFactory: loggerFactory);
        dialer.Start();
        return new MdnsAttachment(mdns, dialer, onDiscovered);
    }

    /// <summary>What a command holds instead of <see cref="AttachMdns"/>'s result when mDNS is off.</summary>
    public static IAsyncDisposable NoDiscovery { get; } = new NothingToDispose();

    private sealed class NothingToDispose : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>The §6 JSON shape of a discovered peer: <c>{"peerId", "addrs": [...], "source"}</c>.</summary>
    public static JsonObject ToJson(DiscoveredPeer peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return new JsonObject
        {
            ["peerId"] = peer.PeerId.ToString(),
            ["addrs"] = CliOutput.Strings(peer.Addresses.Select(a => a.ToString())),
            ["source"] = peer.Source == DiscoverySource.Mdns ? "mdns" : "bootstrap",
        };
    }

    private static async Task<int> DiscoverAsync(ParseResult parseResult, bool useMdns, byte[]? networkFingerprint, string[] bootstrapTexts, double timeoutSeconds,
        string? dnsServerText, bool json, CliServices services, CancellationToken cancellationToken)
    {
        if (!useMdns && bootstrapTexts.Length == 0)
            return CliOutput.Fail(parseResult, "nothing to discover: pass --mdns and/or --bootstrap MA", ExitCodes.InvalidInput);
        if (timeoutSeconds is <= 0 or > 86_400 || double.IsNaN(timeoutSeconds))
            return CliOutput.Fail(parseResult, $"--timeout: {timeoutSeconds} is out of range (0..86400 seconds)", ExitCodes.InvalidInput);
        var servers = new List<IPEndPoint>();
        if (dnsServerText is not null)
        {
            if (!IPEndPoint.TryParse(dnsServerText, out var server))
                return CliOutput.Fail(parseResult, $"--dns-server: '{dnsServerText}' is not IP[:PORT]", ExitCodes.InvalidInput);
            servers.Add(server.Port == 0 ? new IPEndPoint(server.Address, 53) : server);
        }
        BootstrapList list;
        try
        {
            list = BootstrapList.Parse(bootstrapTexts.Select((text, i) => new BootstrapEntry($"--bootstrap #{i + 1}", text)));
        }
        catch (BootstrapConfigurationException e)
        {
            return CliOutput.Fail(parseResult, e.Message, ExitCodes.InvalidInput);
        }
        foreach (var problem in list.Problems) parseResult.InvocationConfiguration.Error.WriteLine($"warning: skipped {problem}");

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
        using var identity = Ed25519Identity.Generate();
        var host = HostNodeTransport.CreateHost(identity, [], [], services.Node);
        await using (host.ConfigureAwait(false))
        {
            var printed = new HashSet<(PeerId, DiscoverySource)>();
            var gate = new Lock();
            void Print(DiscoveredPeer peer)
            {
                lock (gate)
                {
                    if (!printed.Add((peer.PeerId, peer.Source))) return;
                    if (json) CliOutput.WriteJsonLine(parseResult, ToJson(peer));
                    else CliOutput.WriteLine(parseResult, $"{peer.PeerId}  {(peer.Source == DiscoverySource.Mdns ? "mdns" : "bootstrap")}  {string.Join(' ', peer.Addresses)}");
                }
            }

            var sources = new List<IPeerDiscovery>();
            var owned = new List<IAsyncDisposable>();
            try
            {
                if (useMdns)
                {
                    // No listen addresses: we only ask, never announce (the spec's responders answer our query).
                    var mdns = new MdnsService(identity.PeerId, () => [], new MdnsOptions { NetworkFingerprint = networkFingerprint },
                        timeProvider: host.TimeProvider, loggerFactory: services.Loggers,
                        meterFactory: services.Node.MeterFactory);
                    owned.Add(mdns);
                    try
                    {
                        mdns.Start();
                    }
                    catch (System.Net.Sockets.SocketException e)
                    {
                        return CliOutput.Fail(parseResult, $"--mdns: cannot use UDP port 5353: {e.Message}");
                    }
                    sources.Add(mdns);
                }
                if (list.Peers.Count > 0)
                {
                    var resolver = new MultiaddrResolver(new DnsResolver(new DnsResolverOptions { Servers = servers }, host.TimeProvider, services.Loggers), services.Loggers);
                    var bootstrap = new BootstrapDialer(host, list, resolver, new BootstrapOptions
                    {
                        MinConnections = list.Peers.Count + 1, // reach every listed peer, not just "enough"
                        StartJitter = TimeSpan.Zero,
                        DialTimeout = TimeSpan.FromSeconds(Math.Min(10, timeoutSeconds)),
                    }, services.Loggers);
                    owned.Add(bootstrap);
                    bootstrap.Start();
                    sources.Add(bootstrap);
                }
                await Task.WhenAll(sources.Select(s => PrintAllAsync(s, Print, deadline.Token))).ConfigureAwait(false);
            }
            finally
            {
                foreach (var disposable in owned) await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }
        return ExitCodes.Success; // the timeout and Ctrl+C are both normal ends
    }

    private static async Task PrintAllAsync(IPeerDiscovery source, Action<DiscoveredPeer> print, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var peer in source.DiscoverAsync(cancellationToken).ConfigureAwait(false)) print(peer);
        }
        catch (OperationCanceledException)
        {
            // --timeout reached or Ctrl+C
        }
    }

    /// <summary>mDNS plus its dialer and optional reporting, stopped together.</summary>
    private sealed class MdnsAttachment : IAsyncDisposable
    {
        private readonly MdnsService _mdns;
        private readonly DiscoveryDialer _dialer;
        private readonly CancellationTokenSource _stopping = new();
        private readonly Task _reporting;

        public MdnsAttachment(MdnsService mdns, DiscoveryDialer dialer, Action<DiscoveredPeer>? onDiscovered)
        {
            _mdns = mdns;
            _dialer = dialer;
            _reporting = onDiscovered is null ? Task.CompletedTask : PrintAllAsync(mdns, onDiscovered, _stopping.Token);
        }

        public async ValueTask DisposeAsync()
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            await _reporting.ConfigureAwait(false);
            await _dialer.DisposeAsync().ConfigureAwait(false);
            await _mdns.DisposeAsync().ConfigureAwait(false);
            _stopping.Dispose();
        }
    }
}
