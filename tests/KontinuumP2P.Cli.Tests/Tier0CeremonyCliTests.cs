using System.Text.Json;
using System.Text.Json.Nodes;

namespace KontinuumP2P.Cli.Tests;

/// <summary>The ceremony end to end through the CLI: five anchors, 3-of-5 issuance, revocation, rotation, backups.</summary>
public sealed class Tier0CeremonyCliTests
{
    private Tier0CliHarness _cli = null!;

    [SetUp]
    public void SetUp() => _cli = new Tier0CliHarness();

    [TearDown]
    public void TearDown() => _cli.Dispose();

    private async Task<(string[] Keys, string Anchors)> FiveAnchorsAsync(int threshold = 3)
    {
        var keys = new string[5];
        var anchors = new JsonArray();
        for (var i = 0; i < 5; i++)
        {
            var dice = _cli.WriteText($"dice-{i}.txt", $"4 6 1 3 5 2 6 6 1 {i}");
            keys[i] = _cli.PathOf($"anchor-{i}.key");
            var generated = await _cli.JsonAsync("tier0", "generate", "--entropy", dice, "--output", keys[i]);
            var exported = await _cli.JsonAsync("tier0", "export-pubkey", "--key", keys[i]);
            Assert.That(exported.GetProperty("publicKey").GetString(), Is.EqualTo(generated.GetProperty("publicKey").GetString()));
            if (!OperatingSystem.IsWindows()) Assert.That(File.GetUnixFileMode(keys[i]), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            anchors.Add(new JsonObject { ["publicKey"] = exported.GetProperty("publicKey").GetString(), ["label"] = $"zone-{i}" });
        }
        var json = new JsonObject { ["version"] = 1, ["certThreshold"] = threshold, ["crlThreshold"] = threshold, ["configThreshold"] = 2, ["anchors"] = anchors };
        return (keys, _cli.WriteText("anchors.json", json.ToJsonString()));
    }

    private async Task<string> SignAllAsync(string draft, string[] keys, IEnumerable<int> signers, string command = "tier0")
    {
        var partials = new List<string>();
        foreach (var i in signers)
        {
            var partial = _cli.PathOf($"{Path.GetFileName(draft)}.{Path.GetFileNameWithoutExtension(keys[i])}.sig");
            await _cli.JsonAsync(command, "sign", draft, "--key", keys[i], "--output", partial);
            partials.Add(partial);
        }
        return string.Join('|', partials);
    }

    private static string[] PartialArgs(string partials) => [.. partials.Split('|').SelectMany(p => new[] { "--partial", p })];

    [Test]
    public async Task ThreeOfFiveIssuanceRevocationAndRollback()
    {
        var (keys, anchors) = await FiveAnchorsAsync();
        var pubkey = Convert.ToHexStringLower(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        var request = _cli.PathOf("request.json");
        await _cli.JsonAsync("cert", "request", "--node-pubkey", pubkey, "--tier", "1", "--tenancy", "multi", "--operator", "byo:vps",
            "--capability", "dht", "--capability", "mailbox", "--storage-bytes", "1000000", "--sessions", "50",
            "--provider", "hetzner", "--geo-zone", "eu-west", "--output", request);
        var draft = _cli.PathOf("cert.draft");
        var issued = await _cli.JsonAsync("cert", "issue", "--request", request, "--serial", "7", "--output", draft);
        Assert.That(issued.GetProperty("draft").GetBoolean(), Is.True);

        var two = await SignAllAsync(draft, keys, [0, 3]);
        var cert = _cli.PathOf("node.cert");
        var tooFew = await _cli.RunAsync(["tier0", "assemble", draft, .. PartialArgs(two), "--anchors", anchors, "--output", cert]);
        Assert.That(tooFew.Code, Is.EqualTo(1));
        Assert.That(tooFew.Error, Does.Contain("2 of 3"));

        var three = await SignAllAsync(draft, keys, [0, 3, 4]);
        await _cli.JsonAsync(["tier0", "assemble", draft, .. PartialArgs(three), "--anchors", anchors, "--output", cert]);
        var verified = await _cli.JsonAsync("cert", "verify", cert, "--anchors", anchors);
        Assert.That(verified.GetProperty("status").GetString(), Is.EqualTo("Valid"));
        var shown = await _cli.JsonAsync("cert", "show", cert);
        Assert.That(shown.GetProperty("provider").GetString(), Is.EqualTo("hetzner"));
        Assert.That(shown.GetProperty("geoZone").GetString(), Is.EqualTo("eu-west"));
        Assert.That(shown.GetProperty("serial").GetUInt64(), Is.EqualTo(7UL));
        Assert.That(shown.GetProperty("signatures").GetArrayLength(), Is.EqualTo(3));

        // Revoke it: CRL 1 via cert revoke → crl sign ×3 → crl assemble.
        var crlDraft = _cli.PathOf("crl1.draft");
        await _cli.JsonAsync("cert", "revoke", "--cert", cert, "--reason", "Abuse", "--output", crlDraft);
        var crl1 = _cli.PathOf("crl1.bin");
        await _cli.JsonAsync(["crl", "assemble", crlDraft, .. PartialArgs(await SignAllAsync(crlDraft, keys, [1, 2, 3], "crl")), "--anchors", anchors, "--output", crl1]);
        var state = _cli.PathOf("crl-state.json");
        var revoked = await _cli.RunAsync("cert", "verify", cert, "--anchors", anchors, "--crl", crl1, "--crl-state", state, "--json");
        Assert.That(revoked.Code, Is.EqualTo(3), revoked.Error);
        Assert.That(JsonDocument.Parse(revoked.Output).RootElement.GetProperty("status").GetString(), Is.EqualTo("Revoked"));
        Assert.That((await _cli.JsonAsync("crl", "show", crl1)).GetProperty("crlNumber").GetUInt64(), Is.EqualTo(1UL));

        // CRL 2 (another node added) moves the high-water mark; offering CRL 1 again is a rollback and is not used.
        var crl2Draft = _cli.PathOf("crl2.draft");
        await _cli.JsonAsync("cert", "revoke", "--previous", crl1, "--node-id", "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "--output", crl2Draft);
        var crl2 = _cli.PathOf("crl2.bin");
        await _cli.JsonAsync(["crl", "assemble", crl2Draft, .. PartialArgs(await SignAllAsync(crl2Draft, keys, [0, 1, 2], "crl")), "--anchors", anchors, "--output", crl2]);
        Assert.That((await _cli.RunAsync("cert", "verify", cert, "--anchors", anchors, "--crl", crl2, "--crl-state", state)).Code, Is.EqualTo(3));
        var rolledBack = await _cli.RunAsync("cert", "verify", cert, "--anchors", anchors, "--crl", crl1, "--crl-state", state, "--json");
        Assert.That(JsonDocument.Parse(rolledBack.Output).RootElement.GetProperty("crl").GetString(), Is.EqualTo("Rollback"));
        Assert.That(rolledBack.Error, Does.Contain("older than the accepted CRL 2"));
    }

    [Test]
    public async Task RotationOneKeyToAnother()
    {
        var oldKey = _cli.PathOf("old.key");
        var newKey = _cli.PathOf("new.key");
        var oldPub = (await _cli.JsonAsync("tier0", "generate", "--output", oldKey)).GetProperty("publicKey").GetString();
        var newPub = (await _cli.JsonAsync("tier0", "generate", "--output", newKey)).GetProperty("publicKey").GetString();
        string Anchors(int version, string? pub) => new JsonObject
        {
            ["version"] = version, ["certThreshold"] = 1, ["crlThreshold"] = 1, ["configThreshold"] = 1,
            ["anchors"] = new JsonArray(new JsonObject { ["publicKey"] = pub, ["label"] = "primary" }),
        }.ToJsonString();
        var v1 = _cli.WriteText("v1.json", Anchors(1, oldPub));
        var v2 = _cli.WriteText("v2.json", Anchors(2, newPub));
        var draft = _cli.PathOf("rotate.draft");
        await _cli.JsonAsync("tier0", "rotate", "--anchors", v1, "--new-anchors", v2, "--overlap-days", "120", "--output", draft);
        var transition = _cli.PathOf("v2.transition");
        var onlyOld = await SignAllAsync(draft, [oldKey], [0]);
        var refused = await _cli.RunAsync(["tier0", "assemble", draft, .. PartialArgs(onlyOld), "--anchors", v1, "--output", transition]);
        Assert.That(refused.Error, Does.Contain("NewThresholdNotMet"));
        var both = onlyOld + "|" + await SignAllAsync(draft, [newKey], [0]);
        await _cli.JsonAsync(["tier0", "assemble", draft, .. PartialArgs(both), "--anchors", v1, "--output", transition]);

        var request = _cli.PathOf("req.json");
        await _cli.JsonAsync("cert", "request", "--node-pubkey", new string('a', 64), "--output", request);
        var cert = _cli.PathOf("new.cert");
        await _cli.JsonAsync("cert", "issue", "--request", request, "--serial", "1", "--key", newKey, "--output", cert);
        Assert.That((await _cli.RunAsync("cert", "verify", cert, "--anchors", v1)).Code, Is.EqualTo(3), "unknown key before the transition");
        var verified = await _cli.JsonAsync("cert", "verify", cert, "--anchors", v1, "--transition", transition);
        Assert.That(verified.GetProperty("anchorSetVersion").GetUInt64(), Is.EqualTo(2UL));
    }

    [Test]
    public async Task BackupRestoreSplitCombine()
    {
        var key = _cli.PathOf("root.key");
        var pub = (await _cli.JsonAsync("tier0", "generate", "--output", key)).GetProperty("publicKey").GetString();
        var passphrase = _cli.WriteText("pass.txt", "witness-one-half+witness-two-half-0123456789\n");
        var backup = _cli.PathOf("root.enc");
        var fast = new[] { "--kdf-memory-mib", "1", "--kdf-passes", "1" };
        var shortPass = _cli.WriteText("short.txt", "too short");
        Assert.That((await _cli.RunAsync(["tier0", "backup", "--key", key, "--passphrase-file", shortPass, "--output", backup, .. fast])).Error, Does.Contain("at least 32"));
        var backedUp = await _cli.JsonAsync(["tier0", "backup", "--key", key, "--passphrase-file", passphrase, "--output", backup, .. fast]);
        Assert.That(backedUp.GetProperty("kdf").GetString(), Is.EqualTo("Argon2id m=1024 KiB t=1 p=1"));

        var wrong = _cli.WriteText("wrong.txt", "witness-one-half+witness-two-half-0123456780");
        var denied = await _cli.RunAsync("tier0", "restore", "--backup", backup, "--passphrase-file", wrong, "--output", _cli.PathOf("x.key"));
        Assert.That(denied.Code, Is.EqualTo(1));
        Assert.That(denied.Error, Does.Contain("cannot decrypt"));
        Assert.That(File.Exists(_cli.PathOf("x.key")), Is.False);

        var shares = _cli.PathOf("shares");
        await _cli.JsonAsync("tier0", "split", "--secret-file", passphrase, "--output-dir", shares);
        var share = (int i) => Path.Combine(shares, $"share-{i}.txt");
        var combined = _cli.PathOf("combined.txt");
        await _cli.JsonAsync("tier0", "combine", share(2), share(4), share(5), "--output", combined);
        var restored = _cli.PathOf("restored.key");
        await _cli.JsonAsync("tier0", "restore", "--backup", backup, "--passphrase-file", combined, "--output", restored);
        Assert.That((await _cli.JsonAsync("tier0", "export-pubkey", "--key", restored)).GetProperty("publicKey").GetString(), Is.EqualTo(pub));

        Assert.That((await _cli.RunAsync("tier0", "combine", share(1), share(3), "--output", _cli.PathOf("c2"))).Error, Does.Contain("3 needed"));
        var text = File.ReadAllText(share(3)).Trim();
        var parts = text.Split('-');
        var payload = parts[^2].ToCharArray();
        payload[0] = payload[0] == '0' ? '1' : '0';
        File.WriteAllText(share(3), text.Replace(parts[^2], new string(payload), StringComparison.Ordinal));
        Assert.That((await _cli.RunAsync("tier0", "combine", share(1), share(2), share(3), "--output", _cli.PathOf("c3"))).Error, Does.Contain("checksum"));
    }

    [Test]
    public async Task MalformedInputsGiveErrorsNamingTheInput()
    {
        var garbage = _cli.WriteText("garbage.cert", "definitely not a certificate");
        var shown = await _cli.RunAsync("cert", "show", garbage);
        Assert.That(shown.Code, Is.EqualTo(2), "bad input");
        Assert.That(shown.Error, Does.Contain("garbage.cert"));

        var zero = _cli.WriteText("zero.json", """{"version":1,"certThreshold":0,"crlThreshold":1,"configThreshold":1,"anchors":[{"publicKey":"%%","label":"a"}]}""".Replace("%%", new string('b', 64), StringComparison.Ordinal));
        var verify = await _cli.RunAsync("cert", "verify", garbage, "--anchors", zero);
        Assert.That(verify.Error, Does.Contain("threshold 0 is refused"));

        var badKey = _cli.WriteText("bad.key", "KPKEY001 but far too short");
        Assert.That((await _cli.RunAsync("tier0", "export-pubkey", "--key", badKey)).Error, Does.Contain("expected 73"));
        var crlAsCert = await _cli.RunAsync("crl", "show", _cli.WriteText("x.crl", ""));
        Assert.That(crlAsCert.Error, Does.Contain("empty"));
    }
}
