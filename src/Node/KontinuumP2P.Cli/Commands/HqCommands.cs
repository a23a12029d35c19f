using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq;
using KontinuumP2P.Hq.Admin;
using KontinuumP2P.Hq.Audit;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum hq …</c>: run HQ, show fleet status, drain a slot, verify the audit log, back up and restore.</summary>
internal static class HqCommands
{
    /// <summary>Exit code of <c>hq audit verify</c> when the log was tampered with.</summary>
    public const int TamperedExitCode = 3;

    /// <summary>File (in the data directory) holding the operator token for the admin API.</summary>
    public const string OperatorTokenFile = "operator.token";

    public static Command Create()
    {
        var hq = new Command("hq", "HQ: fleet registry, escalation, allocation, admin API (design §7.1)");
        hq.Subcommands.Add(Run());
        hq.Subcommands.Add(Status());
        hq.Subcommands.Add(Drain());
        hq.Subcommands.Add(Decommission());
        var audit = new Command("audit", "HQ's signed, hash-chained audit log");
        audit.Subcommands.Add(AuditVerify());
        hq.Subcommands.Add(audit);
        hq.Subcommands.Add(Backup());
        hq.Subcommands.Add(Restore());
        return hq;
    }

    private static Option<string> ConfigOption() => new("--config") { Description = "hq.toml", DefaultValueFactory = _ => "hq.toml" };

    private static Command Run()
    {
        var config = ConfigOption();
        var duration = new Option<int?>("--duration") { Description = "Stop after S seconds (default: until Ctrl+C or SIGTERM)" };
        var cmd = new Command("run", "Run HQ: registry, escalation ticks and the admin API; prints one JSON line when ready") { config, duration };
        cmd.SetAction((pr, ct) => TrustCli.RunAsync(pr, async () =>
        {
            var options = HqConfigLoader.Load(pr.GetValue(config)!);
            using var key = LoadHqKey(options);
            var certificate = Certificate.Decode(KeyFile.ReadBounded(options.CertificateFile, Certificate.MaxEncodedLength));
            var network = NetworkDefinition.Resolve(options.Network);
            var anchors = TrustAnchors.Create(network.Anchors ?? throw new ArgumentException($"network '{options.Network}' has no anchors: HQ needs a Tier 0 network"), TimeProvider.System);
            var verification = anchors.VerifyCertificate(certificate);
            if (!verification.IsValid) throw new ArgumentException($"HQ's certificate does not verify: {verification.Status}");
            var held = options.Admin.AnchorKeyFiles.Select(f => TrustCli.LoadKey(f, KeyFileKind.Tier0, null)).ToList();
            try
            {
                using var hq = new HqService(options.DataDirectory, key, certificate, options.Escalation.ToOptions(), TimeProvider.System)
                {
                    ProvisioningRetry = options.Provisioning.ToRetryOptions(),
                };
                var enrollment = new EnrollmentService(hq.Database, hq.Audit, () => anchors, held, TimeSpan.FromDays(options.Admin.CertificateValidityDays),
                    TimeSpan.FromHours(options.Admin.CrlValidityHours), TimeProvider.System);
                var tokenPath = Path.Combine(options.DataDirectory, OperatorTokenFile);
                if (!File.Exists(tokenPath))
                    KeyFile.WriteSecret(tokenPath, System.Text.Encoding.UTF8.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))));
                var operatorToken = File.ReadAllText(tokenPath).Trim();
                await using var api = await AdminApi.StartAsync(options.Admin, enrollment, hq.Audit, AdminApi.HashOperatorToken(operatorToken), hq, null, ct).ConfigureAwait(false);
                hq.Audit.Append("hq", "hq.start", JsonSerializer.Serialize(new { peerId = hq.PeerId.ToString(), admin = api.Address.ToString() }));
                HqFleetSeed.Apply(hq, options.Fleet);
                // With a node, HqNodeService ticks, replaces and publishes; without one only the registry's alerts expire here.
                await using var node = options.NodeConfig.Length > 0 ? await HqRunNode.StartAsync(options, hq, ct).ConfigureAwait(false) : null;
                CliOutput.WriteJsonLine(pr, new JsonObject
                {
                    ["peerId"] = hq.PeerId.ToString(),
                    ["admin"] = api.Address.ToString(),
                    ["operatorTokenFile"] = tokenPath,
                    ["dataDirectory"] = options.DataDirectory,
                    ["listenAddrs"] = node is null ? null : CliOutput.Strings([.. node.Node.ListenAddresses.Select(a => a.WithPeerId(node.Node.PeerId).ToString())]),
                });
                node?.Ready(pr);
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                if (pr.GetValue(duration) is { } seconds) stop.CancelAfter(TimeSpan.FromSeconds(seconds));
                using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.TickSeconds));
                try
                {
                    while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
                    {
                        if (node is null) hq.Tick();
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                hq.Audit.Append("hq", "hq.stop", "{}");
            }
            finally
            {
                foreach (var k in held) k.Dispose();
            }
        }));
        return cmd;
    }

    private static Command Status()
    {
        var config = ConfigOption();
        var json = TrustCli.JsonOption();
        var cmd = new Command("status", "Fleet state: every slot's node, provider, region, state and groups; open provider incidents") { config, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var options = HqConfigLoader.Load(pr.GetValue(config)!);
            using var db = OpenExisting(options);
            using var key = LoadHqKey(options);
            var status = HqService.StatusOf(new FleetRegistry(db, new AuditLog(db, key, TimeProvider.System), TimeProvider.System));
            if (pr.GetValue(json))
            {
                CliOutput.WriteJsonLine(pr, JsonSerializer.SerializeToNode(status, new JsonSerializerOptions(JsonSerializerDefaults.Web))!);
                return;
            }
            CliOutput.WriteLine(pr, $"{"SLOT",-16} {"PEER",-54} {"PROVIDER",-12} {"REGION",-10} {"STATE",-9} GROUPS");
            foreach (var m in status.Mailboxes)
                CliOutput.WriteLine(pr, $"{m.Slot,-16} {m.PeerId,-54} {m.Provider,-12} {m.Region,-10} {m.State,-9} {m.Groups}");
            CliOutput.WriteLine(pr, status.Incidents.Count == 0 ? "no provider incidents" : $"provider incidents: {string.Join(", ", status.Incidents)}");
            foreach (var d in status.Drains)
                CliOutput.WriteLine(pr, $"drain {d.Slot}: {d.OldNode} -> {d.NewNode}: {(d.Ready ? "ready to decommission" : "waiting")}: {d.WaitingFor}");
        }));
        return cmd;
    }

    private static Command Drain()
    {
        var config = ConfigOption();
        var slot = new Argument<string>("SLOT") { Description = "Slot to drain" };
        var ttl = new Option<int>("--ttl-seconds") { Description = "Longest blob TTL of an ephemeral slot (its old node may go this long after the move)", DefaultValueFactory = _ => 7 * 24 * 3600 };
        var json = TrustCli.JsonOption();
        var cmd = new Command("drain", "Re-point SLOT to a free spare on the same provider (a new slot record); its groups follow, re-seed the new node and close their mailboxes on the old one") { config, slot, ttl, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            using var opened = OpenHq(pr, config);
            var hq = opened.Service;
            var name = pr.GetValue(slot)!;
            if (hq.Registry.GetSlot(name) is null) throw new ArgumentException($"unknown slot '{name}'");
            var drain = Refusal(() => hq.DrainSlot("cli", name, TimeSpan.FromSeconds(pr.GetValue(ttl))));
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject
            {
                ["slot"] = name,
                ["oldNode"] = drain.OldNode,
                ["newNode"] = drain.NewNode,
                ["role"] = drain.Role.ToString().ToLowerInvariant(),
            }, $"{name} re-pointed from {drain.OldNode} to spare {drain.NewNode}; `hq run` starts it and publishes the record, then `hq decommission {name}` once `hq status` says ready");
        }));
        return cmd;
    }

    private static Command Decommission()
    {
        var config = ConfigOption();
        var slot = new Argument<string>("SLOT") { Description = "Drained slot whose old node is retired" };
        var force = new Option<bool>("--force") { Description = "Retire the old node although the drain is not ready (audited with what it still waited for)" };
        var json = TrustCli.JsonOption();
        var cmd = new Command("decommission", "Retire the old node of SLOT's drain once every group caught up (replica) or the TTL passed (ephemeral); refuses with the reason until then") { config, slot, force, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            using var opened = OpenHq(pr, config);
            var hq = opened.Service;
            var name = pr.GetValue(slot)!;
            var drain = Refusal(() => hq.Decommission("cli", name, pr.GetValue(force)));
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject
            {
                ["slot"] = name,
                ["oldNode"] = drain.OldNode,
                ["forced"] = pr.GetValue(force),
            }, $"{drain.OldNode} of {name} decommissioned; `hq run` stops it if HQ started it");
        }));
        return cmd;
    }

    private static Command AuditVerify()
    {
        var config = ConfigOption();
        var json = TrustCli.JsonOption();
        var cmd = new Command("verify", "Check every audit entry's hash chain and HQ signature; exit 3 when anything was edited") { config, json };
        cmd.SetAction(pr =>
        {
            try
            {
                return TrustCli.Run(pr, () => VerifyOrThrow(pr, config, json));
            }
            catch (AuditTamperedException)
            {
                return TamperedExitCode;
            }
        });
        return cmd;
    }

    private static void VerifyOrThrow(ParseResult pr, Option<string> config, Option<bool> json)
    {
        var options = HqConfigLoader.Load(pr.GetValue(config)!);
        var certificate = Certificate.Decode(KeyFile.ReadBounded(options.CertificateFile, Certificate.MaxEncodedLength));
        using var db = OpenExisting(options);
        var result = AuditLog.Verify(db, certificate.Body.NodePublicKey.Span);
        TrustCli.Report(pr, pr.GetValue(json), new JsonObject
        {
            ["valid"] = result.IsValid,
            ["entries"] = result.Entries,
            ["headHash"] = result.HeadHash,
            ["firstBad"] = result.FirstBadSequence,
            ["problem"] = result.Problem,
        }, result.IsValid ? $"audit log intact: {result.Entries} entries, head {result.HeadHash}" : $"audit log TAMPERED at entry {result.FirstBadSequence}: {result.Problem}");
        if (!result.IsValid) throw new AuditTamperedException();
    }

    private static Command Backup()
    {
        var config = ConfigOption();
        var output = TrustCli.OutputOption();
        var json = TrustCli.JsonOption();
        var cmd = new Command("backup", "Write a consistent copy of HQ's state (SQLite online backup) to a new file") { config, output, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var options = HqConfigLoader.Load(pr.GetValue(config)!);
            using var db = OpenExisting(options);
            db.BackupTo(pr.GetValue(output)!);
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject { ["backup"] = pr.GetValue(output) }, $"HQ state backed up to {pr.GetValue(output)}");
        }));
        return cmd;
    }

    private static Command Restore()
    {
        var config = ConfigOption();
        var from = new Option<string>("--from") { Description = "Backup file", Required = true };
        var json = TrustCli.JsonOption();
        var cmd = new Command("restore", "Restore HQ's state from a backup into the configured (empty) data directory; checks the audit log") { config, from, json };
        cmd.SetAction(pr => TrustCli.Run(pr, () =>
        {
            var options = HqConfigLoader.Load(pr.GetValue(config)!);
            var certificate = Certificate.Decode(KeyFile.ReadBounded(options.CertificateFile, Certificate.MaxEncodedLength));
            using var db = HqDatabase.RestoreFrom(pr.GetValue(from)!, options.DataDirectory);
            var audit = AuditLog.Verify(db, certificate.Body.NodePublicKey.Span);
            if (!audit.IsValid) throw new IOException($"restored, but the audit log fails verification at entry {audit.FirstBadSequence}: {audit.Problem}");
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject { ["restored"] = db.Path, ["auditEntries"] = audit.Entries, ["headHash"] = audit.HeadHash },
                $"HQ state restored to {db.Path} ({audit.Entries} audit entries intact)");
        }));
        return cmd;
    }

    // HQ's refusals (not drained yet, no spare) are the operator's answer, not a crash: exit 1 with the reason.
    private static T Refusal<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is InvalidOperationException or KontinuumP2P.Hq.Allocation.AllocationException or KeyNotFoundException)
        {
            throw new IOException(e.Message, e);
        }
    }

    private static HqDatabase OpenExisting(HqOptions options)
    {
        if (!File.Exists(Path.Combine(options.DataDirectory, HqDatabase.FileName)))
            throw new IOException($"no HQ database in {options.DataDirectory} (run `kontinuum hq run` or `hq restore` first)");
        return HqDatabase.Open(options.DataDirectory);
    }

    /// <summary>HQ's service over its existing database, for one command; disposes the service, then the key.</summary>
    private static CliHq OpenHq(ParseResult pr, Option<string> config)
    {
        var options = HqConfigLoader.Load(pr.GetValue(config)!);
        var key = LoadHqKey(options);
        try
        {
            var certificate = Certificate.Decode(KeyFile.ReadBounded(options.CertificateFile, Certificate.MaxEncodedLength));
            return new CliHq(key, new HqService(OpenExisting(options), key, certificate, options.Escalation.ToOptions(), TimeProvider.System));
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private sealed class CliHq(Ed25519Identity key, HqService service) : IDisposable
    {
        public HqService Service => service;

        public void Dispose()
        {
            service.Dispose();
            key.Dispose();
        }
    }

    private static Ed25519Identity LoadHqKey(HqOptions options) =>
        TrustCli.LoadKey(options.KeyFile, KeyFileKind.Node, Environment.GetEnvironmentVariable("KONTINUUM_HQ_PASSPHRASE"));

    private sealed class AuditTamperedException : Exception
    {
        public AuditTamperedException() : base("audit log tampered")
        {
        }
    }
}
