using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum cert …</c>: request, issue, revoke, verify and show node certificates.</summary>
internal static class CertCommands
{
    /// <summary>Exit code of <c>cert verify</c> when the certificate is refused (1 and 2 are failures and bad input).</summary>
    public const int RefusedExitCode = 3;

    /// <summary>The <c>cert</c> command group.</summary>
    public static Command Create()
    {
        var cert = new Command("cert", "Node certificates");
        cert.Subcommands.Add(Request());
        cert.Subcommands.Add(Issue());
        cert.Subcommands.Add(Revoke());
        cert.Subcommands.Add(Verify());
        cert.Subcommands.Add(TrustCli.ShowCommand("show", DocumentKind.Certificate));
        cert.Subcommands.Add(PublishCommands.CertPublish());
        return cert;
    }

    private static Command Request()
    {
        var nodeKey = new Option<string>("--node-key") { Description = "The node's key file (its public key is requested)" };
        var nodePubkey = new Option<string>("--node-pubkey") { Description = "The node's raw Ed25519 public key, hex (instead of --node-key)" };
        var (file, env) = TrustCli.PassphraseOptions("KONTINUUM_NODE_PASSPHRASE");
        var tier = new Option<int>("--tier") { DefaultValueFactory = _ => 1, Description = "0, 1 or 2" };
        var tenancy = new Option<string>("--tenancy") { DefaultValueFactory = _ => "multi", Description = "single or multi" };
        var op = new Option<string>("--operator") { DefaultValueFactory = _ => "org", Description = "org, partner, byo:vps or byo:home" };
        var served = new Option<string>("--served-identity") { DefaultValueFactory = _ => "", Description = "Served identity, hex (single tenancy)" };
        var caps = new Option<string[]>("--capability") { Description = "Capability (dht, mailbox, archive …); repeatable", AllowMultipleArgumentsPerToken = true };
        var storage = new Option<ulong>("--storage-bytes") { Description = "Storage offered in bytes" };
        var sessions = new Option<uint>("--sessions") { Description = "Sessions offered" };
        var provider = new Option<string>("--provider") { DefaultValueFactory = _ => "", Description = "Hosting provider" };
        var geo = new Option<string>("--geo-zone") { DefaultValueFactory = _ => "", Description = "Geo zone, e.g. eu-west" };
        var days = new Option<int>("--valid-days") { DefaultValueFactory = _ => 365, Description = "Requested validity" };
        var output = TrustCli.OutputOption();
        var json = TrustCli.JsonOption();
        var (adminEndpoint, token, certOutput, wait) = AdminRequest.Options();
        var cmd = new Command("request", "Write a certificate request (JSON) for a node; with --admin-endpoint also send it to HQ and write the certificate")
        {
            nodeKey, nodePubkey, file, env, tier, tenancy, op, served, caps, storage, sessions, provider, geo, days, output, json,
            adminEndpoint, token, certOutput, wait,
        };
        cmd.SetAction((pr, ct) => TrustCli.RunAsync(pr, async () =>
        {
            string pubkey;
            Ed25519Identity? signer = null;
            if (pr.GetValue(nodeKey) is { } keyPath)
            {
                var bytes = KeyFile.ReadBounded(keyPath, KeyFile.MaxFileLength);
                var passphrase = KeyFile.IsEncrypted(bytes) ? TrustCli.RequirePassphrase(pr, file, env) : null;
                signer = KeyFile.Decode(bytes, KeyFileKind.Node, passphrase);
                pubkey = Convert.ToHexStringLower(signer.PublicKey);
            }
            else
            {
                pubkey = pr.GetValue(nodePubkey) ?? throw new ArgumentException("give --node-key or --node-pubkey");
            }
            var request = new CertificateRequest
            {
                NodePublicKey = pubkey,
                Tier = pr.GetValue(tier),
                Tenancy = pr.GetValue(tenancy)!,
                Operator = pr.GetValue(op)!,
                ServedIdentity = pr.GetValue(served)!,
                Capabilities = pr.GetValue(caps) is { Length: > 0 } c ? c : ["dht"],
                StorageBytes = pr.GetValue(storage),
                Sessions = pr.GetValue(sessions),
                Provider = pr.GetValue(provider)!,
                GeoZone = pr.GetValue(geo)!,
                ValidDays = pr.GetValue(days),
            };
            using var key = signer;
            var body = request.ToBody(TimeProvider.System.GetUtcNow(), 1); // validates every field now, not at issue time
            TrustCli.WriteFile(pr.GetValue(output)!, System.Text.Encoding.UTF8.GetBytes(request.ToJson()));
            if (pr.GetValue(adminEndpoint) is { } endpoint)
            {
                var written = await AdminRequest.SendAsync(endpoint, pr.GetValue(token), key, request, pr.GetValue(certOutput)!, pr.GetValue(wait), ct).ConfigureAwait(false);
                TrustCli.Report(pr, pr.GetValue(json), new JsonObject { ["nodeId"] = body.PeerId.ToString(), ["output"] = pr.GetValue(output), ["certificate"] = written },
                    $"certificate for {body.PeerId} written to {written}");
                return;
            }
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject { ["nodeId"] = body.PeerId.ToString(), ["output"] = pr.GetValue(output) },
                $"request for {body.PeerId} written to {pr.GetValue(output)}");
        }));
        return cmd;
    }

    private static Command Issue()
    {
        var request = new Option<string>("--request") { Description = "Request file from `cert request`", Required = true };
        var serial = new Option<ulong>("--serial") { Description = "Certificate serial number", Required = true };
        var keys = new Option<string[]>("--key") { Description = "Tier 0 key file(s) to sign with now (1-of-1); none writes a draft for `tier0 sign`", AllowMultipleArgumentsPerToken = true };
        var (file, env) = TrustCli.PassphraseOptions();
        var output = TrustCli.OutputOption();
        var json = TrustCli.JsonOption();
        var cmd = new Command("issue", "Turn a request into a certificate: signed directly with --key, or a draft for multi-signature") { request, serial, keys, file, env, output, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var text = System.Text.Encoding.UTF8.GetString(KeyFile.ReadBounded(pr.GetValue(request)!, CertificateRequest.MaxLength));
            var body = CertificateRequest.Parse(text).ToBody(TimeProvider.System.GetUtcNow(), pr.GetValue(serial));
            var cert = Certificate.Create(body);
            foreach (var keyPath in pr.GetValue(keys) ?? [])
            {
                var bytes = KeyFile.ReadBounded(keyPath, KeyFile.MaxFileLength);
                var passphrase = KeyFile.IsEncrypted(bytes) ? TrustCli.RequirePassphrase(pr, file, env) : null;
                using var key = KeyFile.Decode(bytes, KeyFileKind.Tier0, passphrase);
                cert = cert.WithSignatures([new SignatureEntry(key.PublicKey, key.Sign(cert.Document.SignedMessage.Span))]);
            }
            TrustCli.WriteFile(pr.GetValue(output)!, cert.Encode());
            var draft = cert.Signatures.Count == 0;
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject
            {
                ["nodeId"] = body.PeerId.ToString(),
                ["serial"] = body.Serial,
                ["signatures"] = cert.Signatures.Count,
                ["draft"] = draft,
                ["validUntil"] = body.ValidUntil.ToString("O"),
                ["output"] = pr.GetValue(output),
            }, draft ? $"certificate draft written to {pr.GetValue(output)}: sign with `tier0 sign`, then `tier0 assemble`"
                     : $"certificate for {body.PeerId} with {cert.Signatures.Count} signature(s) written to {pr.GetValue(output)}");
        }));
        return cmd;
    }

    private static Command Revoke()
    {
        var nodeId = new Option<string>("--node-id") { Description = "PeerId of the node to revoke" };
        var certFile = new Option<string>("--cert") { Description = "Certificate of the node to revoke (instead of --node-id)" };
        var anchorKey = new Option<string>("--anchor-pubkey") { Description = "Tier 0 key (hex) to revoke for compromise" };
        var reason = new Option<RevocationReason>("--reason") { DefaultValueFactory = _ => RevocationReason.Unspecified, Description = "KeyCompromise, SubscriptionLapsed, Abuse, Superseded, Decommissioned" };
        var previous = new Option<string>("--previous") { Description = "The current CRL: its entries are kept and its number + 1 is used" };
        var days = new Option<int>("--next-update-days") { DefaultValueFactory = _ => 7, Description = "Days until the next CRL is due" };
        var version = new Option<ulong>("--anchor-set-version") { DefaultValueFactory = _ => 1, Description = "Anchor set version signing it" };
        var output = TrustCli.OutputOption();
        var json = TrustCli.JsonOption();
        var cmd = new Command("revoke", "Draft the next CRL with a node (or anchor key) added; then `crl sign` and `crl assemble`") { nodeId, certFile, anchorKey, reason, previous, days, version, output, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var now = DateTimeOffset.FromUnixTimeSeconds(TimeProvider.System.GetUtcNow().ToUnixTimeSeconds());
            var prior = pr.GetValue(previous) is { } p ? Crl.FromDocument(TrustCli.ReadDocument(p, DocumentKind.Crl)).Body : null;
            var nodes = prior?.RevokedNodes.ToList() ?? [];
            var anchors = prior?.RevokedAnchors.ToList() ?? [];
            if (pr.GetValue(certFile) is { } c) nodes.Add(new RevokedNode(Certificate.FromDocument(TrustCli.ReadDocument(c, DocumentKind.Certificate)).Body.NodeId, pr.GetValue(reason), now));
            if (pr.GetValue(nodeId) is { } id) nodes.Add(new RevokedNode(PeerId.Parse(id).ToByteArray(), pr.GetValue(reason), now));
            if (pr.GetValue(anchorKey) is { } hex) anchors.Add(new RevokedAnchor(AnchorSetJson.Hex(hex, "--anchor-pubkey"), pr.GetValue(reason), now));
            if (nodes.Count == (prior?.RevokedNodes.Count ?? 0) && anchors.Count == (prior?.RevokedAnchors.Count ?? 0))
                throw new ArgumentException("nothing to revoke: give --node-id, --cert or --anchor-pubkey");
            var body = new CrlBody((prior?.CrlNumber ?? 0) + 1, now, now.AddDays(pr.GetValue(days)), nodes, anchors, pr.GetValue(version));
            var draft = Crl.Create(body);
            TrustCli.WriteFile(pr.GetValue(output)!, draft.Encode());
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject
            {
                ["crlNumber"] = body.CrlNumber,
                ["revokedNodes"] = nodes.Count,
                ["revokedAnchors"] = anchors.Count,
                ["output"] = pr.GetValue(output),
            }, $"CRL {body.CrlNumber} draft written to {pr.GetValue(output)}");
        }));
        return cmd;
    }

    private static Command Verify()
    {
        var file = new Argument<string>("certificate") { Description = "Certificate file" };
        var anchors = TrustCli.AnchorsOption();
        var transitions = TrustCli.TransitionsOption();
        var crl = new Option<string>("--crl") { Description = "CRL to check revocation against" };
        var state = new Option<string>("--crl-state") { Description = "CRL high-water-mark file (refuses rolled-back CRLs; created if missing)" };
        var json = TrustCli.JsonOption();
        var cmd = new Command("verify", $"Verify a certificate: threshold, validity window, revocation (exit {RefusedExitCode} when refused)") { file, anchors, transitions, crl, state, json };
        cmd.SetAction(pr =>
        {
            var refused = false;
            var code = TrustCli.Run(pr, () =>
            {
                var trust = TrustCli.LoadTrust(pr, anchors, transitions);
                var cert = Certificate.FromDocument(TrustCli.ReadDocument(pr.GetValue(file)!, DocumentKind.Certificate));
                CrlTracker? tracker = null;
                string? crlStatus = null;
                if (pr.GetValue(crl) is { } crlPath)
                {
                    ICrlStateStore store = pr.GetValue(state) is { } statePath ? new CrlStateFile(statePath) : new VolatileCrlStateStore();
                    tracker = new CrlTracker(trust, store, TimeProvider.System);
                    var acceptance = tracker.Accept(Crl.FromDocument(TrustCli.ReadDocument(crlPath, DocumentKind.Crl)));
                    crlStatus = acceptance.Status.ToString();
                    if (!acceptance.IsCurrent) TrustCli.Warn(pr, $"CRL not used: {acceptance.Detail}");
                    if (acceptance.Stale) TrustCli.Warn(pr, "the CRL is past its next_update (stale)");
                    trust = tracker.Anchors;
                }
                var result = trust.VerifyCertificate(cert, tracker);
                refused = !result.IsValid;
                TrustCli.Report(pr, pr.GetValue(json), new JsonObject
                {
                    ["valid"] = result.IsValid,
                    ["status"] = result.Status.ToString(),
                    ["validSignatures"] = result.ValidSignatures,
                    ["requiredSignatures"] = result.RequiredSignatures,
                    ["anchorSetVersion"] = result.AnchorSetVersion,
                    ["nodeId"] = cert.Body.PeerId.ToString(),
                    ["crl"] = crlStatus,
                }, $"{cert.Body.PeerId}: {result.Status} ({result.ValidSignatures} of {result.RequiredSignatures} signatures, anchor set {result.AnchorSetVersion})");
                if (refused) pr.InvocationConfiguration.Error.WriteLine($"error: certificate refused: {result.Status}");
            });
            return code != 0 ? code : refused ? RefusedExitCode : 0;
        });
        return cmd;
    }
}
