using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Cli.Commands;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Cli.Tests;

/// <summary>`hq run` with its admin API, `cert request --admin-endpoint`, `hq status|drain|audit verify|backup|restore`, in-process.</summary>
public sealed class HqCliTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "hq-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, true);
    }

    private static async Task<(int Code, string Out, string Err)> RunAsync(Command group, string[] args, CancellationToken ct)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var code = await LineWriter.InvokeAsync(group, args, output, error, ct);
        return (code, output.Text, error.Text);
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Token_to_cert_request_to_verified_certificate_then_audit_backup_and_restore(CancellationToken ct)
    {
        using var anchorKey = Ed25519Identity.Generate();
        using var authority = new DevnetAuthority("lab", [Ed25519Identity.FromSeed(anchorKey.ExportSeed())], 1, TimeProvider.System);
        File.WriteAllText(Path.Combine(_dir, "genesis.json"), GenesisFile.Write(authority.Network));
        KeyFile.WriteSecret(Path.Combine(_dir, "anchor.key"), KeyFile.EncodePlain(anchorKey, KeyFileKind.Tier0));
        using var hqKey = Ed25519Identity.Generate();
        KeyFile.WriteSecret(Path.Combine(_dir, "hq.key"), KeyFile.EncodePlain(hqKey, KeyFileKind.Node));
        File.WriteAllBytes(Path.Combine(_dir, "hq.cert"), authority.IssueCertificate(hqKey, TimeSpan.FromDays(30), ["dht", "hq"]).Encode());
        var config = Path.Combine(_dir, "hq.toml");
        File.WriteAllText(config, """
            [hq]
            data_directory = "data"
            key_file = "hq.key"
            certificate_file = "hq.cert"
            network = "genesis.json"
            [admin]
            listen = "http://127.0.0.1:0"
            anchor_key_files = ["anchor.key"]
            """);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var hqOut = new LineWriter();
        var hqErr = new LineWriter();
        var running = LineWriter.InvokeAsync(HqCommands.Create(), ["hq", "run", "--config", config], hqOut, hqErr, stop.Token);
        var first = await Task.WhenAny(hqOut.FirstLine, running);
        Assert.That(first, Is.SameAs(hqOut.FirstLine), hqErr.Text);
        var ready = JsonDocument.Parse(await hqOut.FirstLine).RootElement;
        var admin = ready.GetProperty("admin").GetString()!;
        var operatorToken = File.ReadAllText(ready.GetProperty("operatorTokenFile").GetString()!).Trim();

        using var http = new HttpClient { BaseAddress = new Uri(admin) };
        using var tokenRequest = new HttpRequestMessage(HttpMethod.Post, "tokens") { Content = JsonContent.Create(new { label = "mbx", lifetimeSeconds = 600 }) };
        tokenRequest.Headers.Authorization = new("Bearer", operatorToken);
        using var tokenResponse = await http.SendAsync(tokenRequest, ct);
        var token = (await tokenResponse.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("token").GetString()!;

        using var nodeKey = Ed25519Identity.Generate();
        KeyFile.WriteSecret(Path.Combine(_dir, "node.key"), KeyFile.EncodePlain(nodeKey, KeyFileKind.Node));
        string[] request =
        [
            "cert", "request", "--node-key", Path.Combine(_dir, "node.key"), "--capability", "dht", "--capability", "mailbox",
            "--provider", "p1", "--geo-zone", "eu", "-o", Path.Combine(_dir, "node.req.json"),
            "--admin-endpoint", admin, "--token", token, "--cert-output", Path.Combine(_dir, "node.cert"), "--json",
        ];
        var issued = await RunAsync(CertCommands.Create(), request, ct);
        Assert.That(issued.Code, Is.Zero, issued.Err);
        var cert = Certificate.Decode(File.ReadAllBytes(Path.Combine(_dir, "node.cert")));
        var anchors = TrustAnchors.Create(authority.Network.Anchors!, TimeProvider.System);
        Assert.That(anchors.VerifyCertificate(cert).IsValid, Is.True);
        Assert.That(cert.Body.PeerId, Is.EqualTo(nodeKey.PeerId));
        Assert.That(cert.Body.Capabilities, Does.Contain("mailbox"));

        var replay = await RunAsync(CertCommands.Create(), request, ct);
        Assert.That(replay.Code, Is.Not.Zero);
        Assert.That(replay.Err, Does.Contain("token-used"));

        await stop.CancelAsync();
        Assert.That(await running, Is.Zero, hqErr.Text);

        var status = await RunAsync(HqCommands.Create(), ["hq", "status", "--config", config, "--json"], ct);
        Assert.That(status.Code, Is.Zero, status.Err);
        Assert.That(JsonDocument.Parse(status.Out).RootElement.GetProperty("mailboxes").GetArrayLength(), Is.Zero);

        var verify = await RunAsync(HqCommands.Create(), ["hq", "audit", "verify", "--config", config, "--json"], ct);
        Assert.That(verify.Code, Is.Zero, verify.Err);
        var verified = JsonDocument.Parse(verify.Out).RootElement;
        Assert.That(verified.GetProperty("valid").GetBoolean(), Is.True);
        Assert.That(verified.GetProperty("entries").GetInt64(), Is.GreaterThanOrEqualTo(5)); // start, token, issue, refusal, stop

        var backupFile = Path.Combine(_dir, "hq-backup.db");
        Assert.That((await RunAsync(HqCommands.Create(), ["hq", "backup", "--config", config, "-o", backupFile], ct)).Code, Is.Zero);

        using (var raw = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_dir, "data", "hq.db")};Pooling=false"))
        {
            raw.Open();
            using var cmd = raw.CreateCommand();
            cmd.CommandText = "UPDATE audit SET actor = 'nobody' WHERE seq = 2";
            cmd.ExecuteNonQuery();
        }
        var tampered = await RunAsync(HqCommands.Create(), ["hq", "audit", "verify", "--config", config], ct);
        Assert.That(tampered.Code, Is.EqualTo(HqCommands.TamperedExitCode));
        Assert.That(tampered.Out, Does.Contain("TAMPERED at entry 2"));

        var restoredConfig = Path.Combine(_dir, "restored.toml");
        File.WriteAllText(restoredConfig, File.ReadAllText(config).Replace("\"data\"", "\"data-restored\""));
        var restore = await RunAsync(HqCommands.Create(), ["hq", "restore", "--config", restoredConfig, "--from", backupFile, "--json"], ct);
        Assert.That(restore.Code, Is.Zero, restore.Err);
        Assert.That((await RunAsync(HqCommands.Create(), ["hq", "audit", "verify", "--config", restoredConfig], ct)).Code, Is.Zero);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Drain_status_decommission_refused_with_the_reason_then_forced_and_audited(CancellationToken ct)
    {
        using var anchorKey = Ed25519Identity.Generate();
        using var authority = new DevnetAuthority("lab", [Ed25519Identity.FromSeed(anchorKey.ExportSeed())], 1, TimeProvider.System);
        File.WriteAllText(Path.Combine(_dir, "genesis.json"), GenesisFile.Write(authority.Network));
        using var hqKey = Ed25519Identity.Generate();
        KeyFile.WriteSecret(Path.Combine(_dir, "hq.key"), KeyFile.EncodePlain(hqKey, KeyFileKind.Node));
        var hqCert = authority.IssueCertificate(hqKey, TimeSpan.FromDays(30), ["dht", "hq"]);
        File.WriteAllBytes(Path.Combine(_dir, "hq.cert"), hqCert.Encode());
        var config = Path.Combine(_dir, "hq.toml");
        File.WriteAllText(config, """
            [hq]
            data_directory = "data"
            key_file = "hq.key"
            certificate_file = "hq.cert"
            network = "genesis.json"
            """);
        var oldNode = Ed25519Identity.Generate().PeerId;
        var spare = Ed25519Identity.Generate().PeerId;
        using (var hq = new KontinuumP2P.Hq.HqService(Path.Combine(_dir, "data"), hqKey, hqCert, new KontinuumP2P.Hq.Escalation.EscalationOptions(), TimeProvider.System))
        {
            hq.RegisterSlot("test", "mbx-a", oldNode, "p0", "eu", KontinuumP2P.Hq.Allocation.MailboxRole.Replica, 100);
            hq.Registry.AddSpare("test", new KontinuumP2P.Hq.Registry.SpareEntry(spare.ToString(), "p0", "eu", "spares/one", null));
        }

        var unknown = await RunAsync(HqCommands.Create(), ["hq", "drain", "mbx-z", "--config", config], ct);
        Assert.That(unknown.Code, Is.Not.Zero);
        Assert.That(unknown.Err, Does.Contain("unknown slot 'mbx-z'"));
        var early = await RunAsync(HqCommands.Create(), ["hq", "decommission", "mbx-a", "--config", config], ct);
        Assert.That(early.Code, Is.Not.Zero);
        Assert.That(early.Err, Does.Contain("no open drain"));

        var drain = await RunAsync(HqCommands.Create(), ["hq", "drain", "mbx-a", "--config", config, "--json"], ct);
        Assert.That(drain.Code, Is.Zero, drain.Err);
        var drained = JsonDocument.Parse(drain.Out).RootElement;
        Assert.That((drained.GetProperty("oldNode").GetString(), drained.GetProperty("newNode").GetString()), Is.EqualTo((oldNode.ToString(), spare.ToString())));
        var again = await RunAsync(HqCommands.Create(), ["hq", "drain", "mbx-a", "--config", config], ct);
        Assert.That(again.Err, Does.Contain("no free spare on provider 'p0'"));

        var status = await RunAsync(HqCommands.Create(), ["hq", "status", "--config", config], ct);
        Assert.That(status.Code, Is.Zero, status.Err);
        Assert.That(status.Out, Does.Contain($"drain mbx-a: {oldNode} -> {spare}: waiting"));
        var statusJson = JsonDocument.Parse((await RunAsync(HqCommands.Create(), ["hq", "status", "--config", config, "--json"], ct)).Out).RootElement;
        Assert.That(statusJson.GetProperty("drains")[0].GetProperty("ready").GetBoolean(), Is.False);

        var refused = await RunAsync(HqCommands.Create(), ["hq", "decommission", "mbx-a", "--config", config], ct);
        Assert.That(refused.Code, Is.Not.Zero);
        Assert.That(refused.Err, Does.Contain("is not drained"));
        var forced = await RunAsync(HqCommands.Create(), ["hq", "decommission", "mbx-a", "--force", "--config", config, "--json"], ct);
        Assert.That(forced.Code, Is.Zero, forced.Err);
        Assert.That(JsonDocument.Parse(forced.Out).RootElement.GetProperty("forced").GetBoolean(), Is.True);
        Assert.That((await RunAsync(HqCommands.Create(), ["hq", "status", "--config", config], ct)).Out, Does.Not.Contain("drain mbx-a"));
        Assert.That((await RunAsync(HqCommands.Create(), ["hq", "audit", "verify", "--config", config], ct)).Code, Is.Zero);
        using var db = KontinuumP2P.Hq.Registry.HqDatabase.Open(Path.Combine(_dir, "data"));
        var actions = db.Read(c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT action FROM audit ORDER BY seq";
            using var r = cmd.ExecuteReader();
            var list = new List<string>();
            while (r.Read()) list.Add(r.GetString(0));
            return list;
        });
        Assert.That(actions, Does.Contain("slot.drain").And.Contain("slot.decommission").And.Contain("slot.decommission-forced"));
    }
}
