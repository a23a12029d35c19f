using System.Text.Json;

namespace KontinuumP2P.Cli.Tests;

public sealed class NodeIdentityCliTests
{
    private static readonly string[] Fast = ["--kdf-memory-mib", "1", "--kdf-passes", "1"];
    private Tier0CliHarness _cli = null!;

    [SetUp]
    public void SetUp() => _cli = new Tier0CliHarness();

    [TearDown]
    public void TearDown() => _cli.Dispose();

    [Test]
    public async Task RecoverReproducesTheIdenticalPeerIdFromThePhrase()
    {
        var pass = _cli.WriteText("node-pass.txt", "node passphrase 1234");
        var node = _cli.PathOf("node");
        var boot = await _cli.JsonAsync(["node", "bootstrap", "--output", node, "--passphrase-file", pass, "--geo-zone", "eu-west", .. Fast]);
        var phrase = boot.GetProperty("recoveryPhrase").GetString()!;
        Assert.That(phrase.Split(' '), Has.Length.EqualTo(12));
        Assert.That(boot.GetProperty("encrypted").GetBoolean(), Is.True);
        Assert.That(new FileInfo(Path.Combine(node, "keys", "node.cert")).Length, Is.EqualTo(0));
        Assert.That(File.ReadAllText(Path.Combine(node, "config", "node.toml")), Does.Contain("geo_zone = \"eu-west\""));
        foreach (var file in Directory.EnumerateFiles(node, "*", SearchOption.AllDirectories))
            Assert.That(File.ReadAllText(file), Does.Not.Contain(phrase.Split(' ')[0] + " " + phrase.Split(' ')[1]), $"phrase stored in {file}");

        var phraseFile = _cli.WriteText("phrase.txt", "  " + phrase.ToUpperInvariant() + "  \n");
        var recovered = await _cli.JsonAsync(["node", "recover", "--output", _cli.PathOf("again"), "--phrase-file", phraseFile, "--passphrase-file", pass, .. Fast]);
        Assert.That(recovered.GetProperty("peerId").GetString(), Is.EqualTo(boot.GetProperty("peerId").GetString()));

        var request = await _cli.JsonAsync("cert", "request", "--node-key", Path.Combine(node, "keys", "node.key"), "--passphrase-file", pass, "--output", _cli.PathOf("r.json"));
        Assert.That(request.GetProperty("nodeId").GetString(), Is.EqualTo(boot.GetProperty("peerId").GetString()));
    }

    [Test]
    public async Task WrongPassphraseNeverDecryptsTheKeyFile()
    {
        var node = _cli.PathOf("node");
        await _cli.JsonAsync(["node", "bootstrap", "--output", node, "--passphrase-file", _cli.WriteText("p.txt", "the right passphrase"), .. Fast]);
        var result = await _cli.RunAsync("cert", "request", "--node-key", Path.Combine(node, "keys", "node.key"),
            "--passphrase-file", _cli.WriteText("w.txt", "the wrong passphrase"), "--output", _cli.PathOf("r.json"));
        Assert.That(result.Code, Is.EqualTo(1));
        Assert.That(result.Error, Does.Contain("cannot decrypt"));
        Assert.That(File.Exists(_cli.PathOf("r.json")), Is.False);
    }

    [Test]
    public async Task WithoutPassphraseTheKeyIsOwnerOnlyWithAWarning()
    {
        var node = _cli.PathOf("node");
        var result = await _cli.RunAsync(["node", "bootstrap", "--output", node, "--passphrase-env", "KONTINUUM_TEST_UNSET_VARIABLE", "--json", .. Fast]);
        Assert.That(result.Code, Is.EqualTo(0), result.Error);
        Assert.That(result.Error, Does.Contain("NOT encrypted"));
        var keyPath = Path.Combine(node, "keys", "node.key");
        if (!OperatingSystem.IsWindows()) Assert.That(File.GetUnixFileMode(keyPath), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        Assert.That(JsonDocument.Parse(result.Output).RootElement.GetProperty("encrypted").GetBoolean(), Is.False);
        var again = await _cli.RunAsync(["node", "bootstrap", "--output", node, "--passphrase-env", "KONTINUUM_TEST_UNSET_VARIABLE", .. Fast]);
        Assert.That(again.Error, Does.Contain("already exists"));
    }

    [Test]
    public async Task BadPhraseNamesTheProblem()
    {
        var phrase = _cli.WriteText("bad.txt", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon zzzz");
        var result = await _cli.RunAsync("node", "recover", "--output", _cli.PathOf("n"), "--phrase-file", phrase, "--passphrase-env", "KONTINUUM_TEST_UNSET_VARIABLE");
        Assert.That(result.Code, Is.EqualTo(2), "bad input");
        Assert.That(result.Error, Does.Contain("zzzz"));
    }
}
