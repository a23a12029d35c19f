using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// <c>crl publish</c> and <c>cert publish</c>: the admin end of the revocation and certification flows. Each joins the
/// network as a short-lived DHT client (no listening socket), puts the document into the DHT and leaves.
/// </summary>
internal static class PublishCommands
{
    /// <summary><c>crl publish CRL --network NET --bootstrap MA…</c> → <c>{"crlNumber", "stored", "status"}</c>.</summary>
    public static Command CrlPublish()
    {
        var file = new Argument<string>("crl") { Description = "Assembled (multi-signed) CRL file from `crl assemble`" };
        var (network, bootstrap, json) = NetworkOptions();
        var cmd = new Command("publish", "Put a multi-signed CRL into the DHT under every anchor key") { file, network, bootstrap, json };
        cmd.SetAction((pr, ct) => RunAsync(pr, async () =>
        {
            var crl = Crl.FromDocument(TrustCli.ReadDocument(pr.GetValue(file)!, DocumentKind.Crl));
            using var identity = Ed25519Identity.Generate();
            await using var node = await JoinAsync(pr, network, bootstrap, identity, certificate: null, ct).ConfigureAwait(false);
            var (acceptance, stored) = await node.PublishCrlAsync(crl, ct).ConfigureAwait(false);
            if (!acceptance.IsCurrent)
                throw new ArgumentException($"CRL {crl.Body.CrlNumber} refused ({acceptance.Status}): {acceptance.Detail}");
            if (stored == 0) throw new IOException($"CRL {crl.Body.CrlNumber}: no DHT server stored it");
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject
            {
                ["crlNumber"] = crl.Body.CrlNumber,
                ["stored"] = stored,
                ["status"] = acceptance.Status.ToString(),
                ["stale"] = acceptance.Stale,
            }, $"CRL {crl.Body.CrlNumber} stored on {stored} DHT servers");
        }));
        return cmd;
    }

    /// <summary>
    /// <c>cert publish CERT --key NODEKEY --network NET --bootstrap MA… [--addr MA]…</c>: signs a node record with the
    /// node's own key (only it can) and puts it under <c>/node/&lt;id&gt;</c> → <c>{"nodeId", "stored", "addrs"}</c>.
    /// </summary>
    public static Command CertPublish()
    {
        var file = new Argument<string>("certificate") { Description = "Assembled certificate file" };
        var key = new Option<string>("--key") { Description = "The node's key file (the key the certificate names)", Required = true };
        var (passFile, passEnv) = TrustCli.PassphraseOptions(NodeIdentityCommands.PassphraseVariable);
        var addrs = new Option<string[]>("--addr") { Description = "Address the node is reachable on (without /p2p/); repeatable", AllowMultipleArgumentsPerToken = true };
        var (network, bootstrap, json) = NetworkOptions();
        var cmd = new Command("publish", "Publish a node record (certificate + addresses, signed by the node key) into the DHT")
        {
            file, key, passFile, passEnv, addrs, network, bootstrap, json,
        };
        cmd.SetAction((pr, ct) => RunAsync(pr, async () =>
        {
            var certificate = Certificate.FromDocument(TrustCli.ReadDocument(pr.GetValue(file)!, DocumentKind.Certificate));
            var addresses = (pr.GetValue(addrs) ?? []).Select(a => ParseAddress("--addr", a)).ToList();
            var bytes = KeyFile.ReadBounded(pr.GetValue(key)!, KeyFile.MaxFileLength);
            var passphrase = KeyFile.IsEncrypted(bytes) ? TrustCli.RequirePassphrase(pr, passFile, passEnv) : null;
            using var identity = KeyFile.Decode(bytes, KeyFileKind.Node, passphrase);
            if (!certificate.Body.NodePublicKey.Span.SequenceEqual(identity.PublicKey))
                throw new ArgumentException($"--key: {pr.GetValue(key)} is not the node key the certificate names ({certificate.Body.PeerId})");
            await using var node = await JoinAsync(pr, network, bootstrap, identity, certificate, ct).ConfigureAwait(false);
            if (node.VerifyCertificate(certificate) is { IsValid: false } refused)
                throw new ArgumentException($"certificate {certificate.Body.PeerId} is refused by this network ({refused.Status}): every peer would reject its record");
            var stored = await node.PublishNodeRecordAsync(addresses, ct).ConfigureAwait(false);
            if (stored == 0) throw new IOException($"/node/{certificate.Body.PeerId}: no DHT server stored it");
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject
            {
                ["nodeId"] = certificate.Body.PeerId.ToString(),
                ["stored"] = stored,
                ["addrs"] = CliOutput.Strings(addresses.Select(a => a.ToString())),
            }, $"/node/{certificate.Body.PeerId} stored on {stored} DHT servers");
        }));
        return cmd;
    }

    private static (Option<string> Network, Option<string[]> Bootstrap, Option<bool> Json) NetworkOptions() =>
        (new Option<string>("--network") { Description = "Genesis file of the network (or mainnet)", DefaultValueFactory = _ => "mainnet" },
         new Option<string[]>("--bootstrap") { Description = "Bootstrap peer multiaddr with /p2p/<id>; repeatable (the network's own are used too)", AllowMultipleArgumentsPerToken = true },
         TrustCli.JsonOption());

    /// <summary>Starts a DHT client on the network; fails with a clear error when no bootstrap peer answers.</summary>
    private static async Task<KontinuumNode> JoinAsync(ParseResult pr, Option<string> networkOption, Option<string[]> bootstrapOption,
        Ed25519Identity identity, Certificate? certificate, CancellationToken cancellationToken)
    {
        var network = NetworkDefinition.Resolve(pr.GetValue(networkOption)!);
        if (network.Anchors is null) throw new ArgumentException($"--network: '{network.Name}' has no Tier 0 anchors, hence no certificates or CRLs");
        var bootstrap = (pr.GetValue(bootstrapOption) ?? []).Select(a => ParseAddress("--bootstrap", a)).ToList();
        if (bootstrap.Any(a => a.PeerId is null)) throw new ArgumentException("--bootstrap: every address must end with /p2p/<peer id>");
        if (bootstrap.Count == 0 && network.BootstrapPeers.Count == 0)
            throw new ArgumentException($"--bootstrap: network '{network.Name}' lists no bootstrap peers; give at least one");
        var node = await KontinuumNode.StartAsync(new KontinuumNodeOptions
        {
            Identity = identity,
            Network = network,
            Certificate = certificate,
            ExtraBootstrapPeers = bootstrap,
            DhtMode = Dht.DhtMode.Client,
        }, cancellationToken).ConfigureAwait(false);
        if (node.Dht.RoutingTableSize == 0)
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"no bootstrap peer of network '{network.Name}' answered on {network.KadProtocolId}");
        }
        return node;
    }

    private static Multiaddr ParseAddress(string option, string text)
    {
        try
        {
            return Multiaddr.Parse(text);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"{option}: '{text}' is not a valid multiaddr ({e.Message})", e);
        }
    }

    private static async Task<int> RunAsync(ParseResult pr, Func<Task> body)
    {
        try
        {
            return await TrustCli.RunAsync(pr, body).ConfigureAwait(false);
        }
        catch (NetworkDefinitionException e)
        {
            return CliOutput.Fail(pr, $"--network: {e.Message}", ExitCodes.InvalidInput);
        }
        catch (TimeoutException e)
        {
            return CliOutput.Fail(pr, e.Message);
        }
    }
}
