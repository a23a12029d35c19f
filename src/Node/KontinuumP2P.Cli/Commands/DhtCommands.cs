using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum dht serve|find-peer|get|put|provide|providers</c>: a DHT server, or one-shot client queries.</summary>
internal static class DhtCommands
{
    private const string DefaultListen = "/ip4/127.0.0.1/tcp/0";

    /// <summary>Builds the <c>dht</c> command group.</summary>
    public static Command Create()
    {
        var dht = new Command("dht", "Run a Kademlia DHT server or query the DHT as a client");
        dht.Subcommands.Add(CreateServe());
        dht.Subcommands.Add(CreateQuery("find-peer", "PEERID", "Find a peer's addresses", FindPeerAsync,
            text => PeerId.TryParse(text, out _) ? null : $"PEERID: '{text}' is not a peer id"));
        dht.Subcommands.Add(CreateQuery("get", "KEY", "Get the best value of a record key (/pk/…, /node/…, /crl/…)", GetAsync));
        dht.Subcommands.Add(CreatePut());
        dht.Subcommands.Add(CreateQuery("provide", "CID", "Announce this (temporary) client as a provider of a CID", ProvideAsync));
        dht.Subcommands.Add(CreateQuery("providers", "CID", "List providers of a CID", ProvidersAsync));
        return dht;
    }

    private sealed record Common(Option<string[]> Bootstrap, Option<string> KadProtocol, Option<string> Network, Option<bool> Json, Option<bool> Verbose);

    private delegate Task<int> QueryAction(ParseResult parseResult, DhtNode node, string argument, bool json, CancellationToken cancellationToken);

    private static Common AddCommon(Command command)
    {
        var common = new Common(
            new Option<string[]>("--bootstrap") { Description = "Bootstrap peer multiaddr with /p2p/<id>; repeatable" },
            new Option<string>("--kad-protocol") { Description = "Kad protocol id", DefaultValueFactory = _ => DhtOptions.KontinuumProtocolId },
            new Option<string>("--network") { Description = "open (plain libp2p, no admission), mainnet, or a genesis file (client queries with admission and the /node/ and /crl/ validators)", DefaultValueFactory = _ => "mainnet" },
            new Option<bool>("--json") { Description = "Print JSON only" },
            CliServices.VerboseOption());
        command.Options.Add(common.Bootstrap);
        command.Options.Add(common.KadProtocol);
        command.Options.Add(common.Network);
        command.Options.Add(common.Json);
        command.Options.Add(common.Verbose);
        return common;
    }

    private static Command CreateServe()
    {
        var listen = new Option<string[]>("--listen") { Description = $"Multiaddr to listen on; repeatable (default {DefaultListen})" };
        var duration = new Option<double?>("--duration") { Description = "Seconds to stay up (default: until Ctrl+C)" };
        var mdns = DiscoverCommand.CreateMdnsOption();
        var command = new Command("serve", "Run a DHT server until stopped") { listen, duration, mdns };
        var common = AddCommon(command);
        command.SetAction((parseResult, cancellationToken) => ServeAsync(parseResult, common,
            parseResult.GetValue(listen) is { Length: > 0 } given ? given : [DefaultListen], parseResult.GetValue(duration),
            parseResult.GetValue(mdns), cancellationToken));
        return command;
    }

    private static Command CreateQuery(string name, string argumentName, string description, QueryAction action,
        Func<string, string?>? checkArgument = null)
    {
        var argument = new Argument<string>(argumentName) { Description = argumentName };
        var command = new Command(name, description) { argument };
        var common = AddCommon(command);
        command.SetAction((parseResult, cancellationToken) =>
            // Bad input is reported before anything touches the network.
            checkArgument?.Invoke(parseResult.GetValue(argument)!) is { } problem
                ? Task.FromResult(CliOutput.Fail(parseResult, problem, ExitCodes.InvalidInput))
                : RunClientAsync(parseResult, common, (node, json, ct) => action(parseResult, node, parseResult.GetValue(argument)!, json, ct),
                    cancellationToken));
        return command;
    }

    private static Command CreatePut()
    {
        var key = new Argument<string>("KEY") { Description = "Record key, e.g. /pk/12D3KooW…" };
        var valueFile = new Option<FileInfo>("--value-file") { Description = "File holding the value", Required = true };
        var command = new Command("put", "Store a record on the closest servers") { key, valueFile };
        var common = AddCommon(command);
        command.SetAction((parseResult, cancellationToken) => RunClientAsync(parseResult, common,
            (node, json, ct) => PutAsync(parseResult, node, parseResult.GetValue(key)!, parseResult.GetValue(valueFile)!, json, ct), cancellationToken));
        return command;
    }

    private static async Task<int> ServeAsync(ParseResult parseResult, Common common, string[] listenTexts, double? durationSeconds,
        bool useMdns, CancellationToken cancellationToken)
    {
        var addresses = new List<Multiaddr>();
        foreach (var text in listenTexts)
        {
            if (!TryParseAddress(text, out var address, out var reason)) return CliOutput.Fail(parseResult, $"--listen: '{text}' is not a valid multiaddr ({reason})", ExitCodes.InvalidInput);
            addresses.Add(address!);
        }
        if (durationSeconds is <= 0) return CliOutput.Fail(parseResult, "--duration: must be a positive number of seconds", ExitCodes.InvalidInput);
        if (ValidateCommon(parseResult, common, requireBootstrap: false, out var options, out var network) is { } error) return error;
        // A server on a Kontinuum network must prove a certificate to be admitted: that is `node run`'s job.
        if (network is not null)
            return CliOutput.Fail(parseResult, $"--network: a DHT server on '{network.Name}' needs a certificate; run `kontinuum node run` (or use --network open)", ExitCodes.InvalidInput);
        using var identity = Ed25519Identity.Generate();
        using var services = new CliServices(parseResult.GetValue(common.Verbose));
        var serverOptions = options! with { Mode = DhtMode.Server };
        // The open network's node: no admission; peers found on the LAN (--mdns) are dialed and offered to the DHT.
        var node = services.Builder(new KontinuumNodeOptions
        {
            Identity = identity,
            Network = NetworkDefinition.Open,
            ListenAddresses = addresses,
            DhtMode = DhtMode.Server,
            EnableMdns = useMdns,
            ConfigureDht = _ => serverOptions,
        }).Build();
        await using (node.ConfigureAwait(false))
        {
            var full = new List<string>();
            try
            {
                await node.StartAsync(cancellationToken).ConfigureAwait(false);
                full = [.. node.ListenAddresses.Select(a => a.WithPeerId(node.PeerId).ToString())];
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
            {
                return CliOutput.Fail(parseResult, useMdns ? $"--listen or --mdns: {e.Message}" : $"--listen: {e.Message}");
            }
            catch (OperationCanceledException)
            {
                return ExitCodes.Success;
            }
            if (parseResult.GetValue(common.Json))
                CliOutput.WriteJsonLine(parseResult, new JsonObject { ["peerId"] = node.PeerId.ToString(), ["listenAddrs"] = CliOutput.Strings(full) });
            else
                CliOutput.WriteLine(parseResult, $"peer id {node.PeerId}\n" + string.Join('\n', full.Select(a => "listening on " + a)));
            try
            {
                var wait = durationSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : Timeout.InfiniteTimeSpan;
                await Task.Delay(wait, TimeProvider.System, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C or SIGTERM: a normal way to stop.
            }
        }
        return ExitCodes.Success;
    }

    private static async Task<int> RunClientAsync(ParseResult parseResult, Common common, Func<DhtNode, bool, CancellationToken, Task<int>> body,
        CancellationToken cancellationToken)
    {
        if (ValidateCommon(parseResult, common, requireBootstrap: false, out var options, out var network) is { } error) return error;
        if (options!.BootstrapPeers.Count == 0 && (network?.BootstrapPeers.Count ?? 0) == 0)
            return CliOutput.Fail(parseResult, "--bootstrap: at least one bootstrap peer is needed", ExitCodes.InvalidInput);
        try
        {
            return network is null
                ? await RunOpenClientAsync(parseResult, common, options, body, cancellationToken).ConfigureAwait(false)
                : await RunNetworkClientAsync(parseResult, common, options, network, body, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidRecordException e)
        {
            return CliOutput.Fail(parseResult, e.Message, ExitCodes.InvalidInput);
        }
        catch (Exception e) when (e is IOException or TimeoutException or InvalidDataException)
        {
            return CliOutput.Fail(parseResult, e.Message);
        }
    }

    /// <summary>The open network: a DHT client without admission, only the built-in validators.</summary>
    private static async Task<int> RunOpenClientAsync(ParseResult parseResult, Common common, DhtOptions options,
        Func<DhtNode, bool, CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        using var identity = Ed25519Identity.Generate();
        using var services = new CliServices(parseResult.GetValue(common.Verbose));
        var clientOptions = options with { Mode = DhtMode.Client };
        var node = await services.Builder(new KontinuumNodeOptions
        {
            Identity = identity,
            Network = NetworkDefinition.Open,
            ExtraBootstrapPeers = [.. options.BootstrapPeers],
            DhtMode = DhtMode.Client,
            ConfigureDht = _ => clientOptions,
        }).StartAsync(cancellationToken).ConfigureAwait(false);
        await using (node.ConfigureAwait(false))
        {
            if (node.Dht.RoutingTableSize == 0) return CliOutput.Fail(parseResult, "--bootstrap: no bootstrap peer answered on " + options.ProtocolId);
            return await body(node.Dht, parseResult.GetValue(common.Json), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A Kontinuum network (mainnet or a genesis file): a client node with admission and the /node/ and /crl/ validators.</summary>
    private static async Task<int> RunNetworkClientAsync(ParseResult parseResult, Common common, DhtOptions options, NetworkDefinition network,
        Func<DhtNode, bool, CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        using var identity = Ed25519Identity.Generate();
        using var services = new CliServices(parseResult.GetValue(common.Verbose));
        var json = parseResult.GetValue(common.Json);
        var node = await services.Builder(new KontinuumNodeOptions
        {
            Identity = identity,
            Network = network,
            ExtraBootstrapPeers = [.. options.BootstrapPeers],
            DhtMode = DhtMode.Client,
            ConfigureDht = dht => dht with { ProtocolId = options.ProtocolId },
        }).StartAsync(cancellationToken).ConfigureAwait(false);
        await using (node.ConfigureAwait(false))
        {
            if (node.Dht.RoutingTableSize == 0)
                return CliOutput.Fail(parseResult, $"--bootstrap: no bootstrap peer of network '{network.Name}' answered on {options.ProtocolId}");
            return await body(node.Dht, json, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Checks the common options; <paramref name="network"/> is null for the open network.</summary>
    private static int? ValidateCommon(ParseResult parseResult, Common common, bool requireBootstrap, out DhtOptions? options,
        out NetworkDefinition? network)
    {
        options = null;
        network = null;
        var bootstrap = new List<Multiaddr>();
        foreach (var text in parseResult.GetValue(common.Bootstrap) ?? [])
        {
            if (!TryParseAddress(text, out var address, out var reason)) return CliOutput.Fail(parseResult, $"--bootstrap: '{text}' is not a valid multiaddr ({reason})", ExitCodes.InvalidInput);
            if (address!.PeerId is null) return CliOutput.Fail(parseResult, $"--bootstrap: '{text}' must end with /p2p/<peer id>", ExitCodes.InvalidInput);
            bootstrap.Add(address);
        }
        if (requireBootstrap && bootstrap.Count == 0) return CliOutput.Fail(parseResult, "--bootstrap: at least one bootstrap peer is needed", ExitCodes.InvalidInput);
        var protocol = parseResult.GetValue(common.KadProtocol) ?? DhtOptions.KontinuumProtocolId;
        if (!protocol.StartsWith('/') || protocol.Length > 100) return CliOutput.Fail(parseResult, $"--kad-protocol: '{protocol}' is not a protocol id like /kontinuum/kad/1.0.0", ExitCodes.InvalidInput);
        var networkText = parseResult.GetValue(common.Network) ?? NetworkDefinition.MainnetName;
        if (networkText != NetworkDefinition.OpenName)
        {
            try
            {
                network = NetworkDefinition.Resolve(networkText);
            }
            catch (NetworkDefinitionException e)
            {
                return CliOutput.Fail(parseResult, $"--network: {e.Message}", ExitCodes.InvalidInput);
            }
        }
        options = new DhtOptions { ProtocolId = protocol, BootstrapPeers = bootstrap };
        return null;
    }

    private static async Task<int> FindPeerAsync(ParseResult parseResult, DhtNode node, string text, bool json, CancellationToken cancellationToken)
    {
        if (!PeerId.TryParse(text, out var peer)) return CliOutput.Fail(parseResult, $"PEERID: '{text}' is not a peer id", ExitCodes.InvalidInput);
        // Found means reached: a peer others still name may have left or be cut off (#16).
        var found = await node.FindPeerAsync(peer!, confirmReachable: true, cancellationToken).ConfigureAwait(false);
        if (found is null) return CliOutput.Fail(parseResult, $"peer {peer} was not found");
        if (found.Reachable == false)
            return CliOutput.Fail(parseResult, $"peer {peer} is named by the DHT at {string.Join(' ', found.Addresses)} but a dial did not reach it");
        var addresses = found.Addresses.Select(a => a.ToString()).ToList();
        if (json)
        {
            CliOutput.WriteJsonLine(parseResult, new JsonObject
            {
                ["peerId"] = peer!.ToString(), ["addrs"] = CliOutput.Strings(addresses), ["hops"] = found.Statistics.Hops,
                ["rpcs"] = found.Statistics.Requests, ["ms"] = Math.Round(found.Statistics.Duration.TotalMilliseconds, 1),
            });
        }
        else
        {
            CliOutput.WriteLine(parseResult, $"{peer}: {string.Join(' ', addresses)} ({found.Statistics.Hops} hops, {found.Statistics.Requests} rpcs, {found.Statistics.Duration.TotalMilliseconds:0} ms)");
        }
        return ExitCodes.Success;
    }

    private static async Task<int> GetAsync(ParseResult parseResult, DhtNode node, string keyText, bool json, CancellationToken cancellationToken)
    {
        var key = ParseKey(keyText);
        if (Dht.Records.RecordValidators.NamespaceOf(key) is null) return CliOutput.Fail(parseResult, $"KEY: '{keyText}' is not of the form /namespace/name", ExitCodes.InvalidInput);
        DhtValue? best = null;
        await foreach (var value in node.GetValueAsync(key, cancellationToken: cancellationToken).ConfigureAwait(false)) best = value;
        if (best is null) return CliOutput.Fail(parseResult, $"no valid record found for {keyText}");
        var holders = best.Holders.Select(h => h.ToString()).ToList();
        if (json)
            CliOutput.WriteJsonLine(parseResult, new JsonObject { ["key"] = keyText, ["value"] = Convert.ToBase64String(best.Record.Value.Span), ["holders"] = CliOutput.Strings(holders) });
        else
            CliOutput.WriteLine(parseResult, $"{keyText}: {best.Record.Value.Length} bytes from {holders.Count} holders\n{Convert.ToBase64String(best.Record.Value.Span)}");
        return ExitCodes.Success;
    }

    private static async Task<int> PutAsync(ParseResult parseResult, DhtNode node, string keyText, FileInfo file, bool json, CancellationToken cancellationToken)
    {
        var key = ParseKey(keyText);
        if (!file.Exists) return CliOutput.Fail(parseResult, $"--value-file: '{file.FullName}' does not exist", ExitCodes.InvalidInput);
        if (file.Length > 64 * 1024) return CliOutput.Fail(parseResult, $"--value-file: '{file.FullName}' is over 64 KiB", ExitCodes.InvalidInput);
        var value = await File.ReadAllBytesAsync(file.FullName, cancellationToken).ConfigureAwait(false);
        var stored = await node.PutValueAsync(key, value, cancellationToken).ConfigureAwait(false);
        if (json) CliOutput.WriteJsonLine(parseResult, new JsonObject { ["key"] = keyText, ["stored"] = stored });
        else CliOutput.WriteLine(parseResult, $"{keyText}: stored on {stored} servers");
        return stored > 0 ? ExitCodes.Success : ExitCodes.Failure;
    }

    private static async Task<int> ProvideAsync(ParseResult parseResult, DhtNode node, string cid, bool json, CancellationToken cancellationToken)
    {
        if (!TryParseCid(cid, out var key)) return CliOutput.Fail(parseResult, $"CID: '{cid}' is not a CIDv0 (Qm…) or base32 CIDv1 (b…)", ExitCodes.InvalidInput);
        var told = await node.ProvideAsync(key, cancellationToken).ConfigureAwait(false);
        if (json) CliOutput.WriteJsonLine(parseResult, new JsonObject { ["providers"] = Providers([new KadPeer(node.LocalPeer, [])]), ["stored"] = told });
        else CliOutput.WriteLine(parseResult, $"{cid}: announced to {told} servers");
        return told > 0 ? ExitCodes.Success : ExitCodes.Failure;
    }

    private static async Task<int> ProvidersAsync(ParseResult parseResult, DhtNode node, string cid, bool json, CancellationToken cancellationToken)
    {
        if (!TryParseCid(cid, out var key)) return CliOutput.Fail(parseResult, $"CID: '{cid}' is not a CIDv0 (Qm…) or base32 CIDv1 (b…)", ExitCodes.InvalidInput);
        var providers = new List<KadPeer>();
        await foreach (var provider in node.FindProvidersAsync(key, cancellationToken: cancellationToken).ConfigureAwait(false)) providers.Add(provider);
        if (json) CliOutput.WriteJsonLine(parseResult, new JsonObject { ["providers"] = Providers(providers) });
        else foreach (var p in providers) CliOutput.WriteLine(parseResult, $"{p.PeerId} {string.Join(' ', p.Addresses)}");
        return ExitCodes.Success;
    }

    private static JsonArray Providers(IEnumerable<KadPeer> peers) =>
        new([.. peers.Select(p => (JsonNode?)new JsonObject { ["peerId"] = p.PeerId.ToString(), ["addrs"] = CliOutput.Strings(p.Addresses.Select(a => a.ToString())) })]);

    /// <summary>UTF-8 key bytes, except that <c>/pk/&lt;peer id text&gt;</c> carries the peer's multihash bytes as on the wire.</summary>
    private static byte[] ParseKey(string text) =>
        text.StartsWith("/pk/", StringComparison.Ordinal) && PeerId.TryParse(text[4..], out var peer)
            ? Dht.Records.PublicKeyValidator.KeyFor(peer!)
            : Encoding.UTF8.GetBytes(text);

    /// <summary>The multihash of a CIDv0 (base58 <c>Qm…</c>) or of a base32 CIDv1 (<c>b…</c>).</summary>
    private static bool TryParseCid(string text, out byte[] multihash)
    {
        multihash = [];
        try
        {
            if (text.StartsWith("Qm", StringComparison.Ordinal)) multihash = Base58.Decode(text);
            else if (text.StartsWith('b'))
            {
                var bytes = Base32.Decode(text.AsSpan(1));
                if (Varint.Read(bytes, out var versionLength) != 1) return false;
                Varint.Read(bytes.AsSpan(versionLength), out var codecLength);
                multihash = bytes[(versionLength + codecLength)..];
            }
            return multihash.Length is > 2 and <= 128;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidDataException or IndexOutOfRangeException)
        {
            return false;
        }
    }

    private static bool TryParseAddress(string text, out Multiaddr? address, out string reason)
    {
        reason = "";
        address = null;
        try
        {
            address = Multiaddr.Parse(text);
            return true;
        }
        catch (FormatException e)
        {
            reason = e.Message;
            return false;
        }
    }
}
