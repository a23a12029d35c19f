using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Dht;
using KontinuumP2P.Node.Configuration;

namespace KontinuumP2P.Node.Tests;

/// <summary>node.toml: parsing, environment overrides, and errors that name the key.</summary>
public sealed class NodeConfigLoaderTests
{
    private static readonly Dictionary<string, string> NoEnvironment = [];
    private string _directory = null!;

    [SetUp]
    public void SetUp() => _directory = Directory.CreateTempSubdirectory("kp-config-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void A_devnet_config_resolves_to_node_options()
    {
        var files = DevnetLayout.Write(Path.Combine(_directory, "dn"), 2, 40100, TimeSpan.FromDays(1), TimeProvider.System);
        var config = NodeConfigLoader.Load(files.Nodes[1].ConfigPath, NoEnvironment);
        using var resolved = NodeConfigResolver.Resolve(config, files.Nodes[1].ConfigPath);
        var options = resolved.Options;
        Assert.Multiple(() =>
        {
            Assert.That(options.Identity!.PeerId.ToString(), Is.EqualTo(files.Nodes[1].PeerId));
            Assert.That(options.Certificate, Is.Not.Null);
            Assert.That(options.Network.Name, Is.EqualTo("devnet"));
            Assert.That(options.ListenAddresses.Select(a => a.ToString()), Is.EqualTo(new[] { "/ip4/127.0.0.1/tcp/40102" }));
            Assert.That(options.ExtraBootstrapPeers.Single().ToString(), Is.EqualTo(files.Nodes[0].ListenAddress));
            Assert.That(options.DhtMode, Is.EqualTo(DhtMode.Server));
            Assert.That(options.CrlRefreshInterval, Is.EqualTo(TimeSpan.FromSeconds(5)));
            Assert.That(options.NodeRecordRepublishInterval, Is.EqualTo(TimeSpan.FromSeconds(10)));
            Assert.That(options.BootstrapDialing, Is.Not.Null);
            Assert.That(resolved.MetricsEndpoint!.ToString(), Is.EqualTo("127.0.0.1:40103"));
            Assert.That(options.DataDirectory, Is.EqualTo(Path.Combine(files.Nodes[1].Directory, "data")));
        });
        // The first CRL written next to the anchor key is one the network accepts.
        var tracker = new KontinuumP2P.Certs.Revocation.CrlTracker(
            KontinuumP2P.Certs.Trust.TrustAnchors.Create(options.Network.Anchors!, TimeProvider.System),
            new KontinuumP2P.Certs.Revocation.VolatileCrlStateStore(), TimeProvider.System);
        var acceptance = tracker.Accept(KontinuumP2P.Certs.Revocation.Crl.Decode(File.ReadAllBytes(files.FirstCrlFile)));
        Assert.That(acceptance.IsCurrent && !acceptance.Stale, Is.True, acceptance.Detail);
        if (!OperatingSystem.IsWindows())
            Assert.That(File.GetUnixFileMode(Path.Combine(files.Nodes[1].Directory, "keys", "node.key")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
    }

    [Test]
    public void Environment_overrides_every_kind_of_key()
    {
        var config = NodeConfigLoader.Parse("[network]\nlisten = [\"/ip4/0.0.0.0/tcp/4001\"]\nmdns = false\n", "node.toml", new Dictionary<string, string>
        {
            ["KONTINUUM__NETWORK__LISTEN"] = "/ip4/127.0.0.1/tcp/1, /ip4/127.0.0.1/tcp/2",
            ["KONTINUUM__NETWORK__MDNS"] = "true",
            ["KONTINUUM__NODE__TIER"] = "2",
            ["KONTINUUM__CRL__REFRESH_INTERVAL"] = "2s",
            ["KONTINUUM__NETWORK__EXTRA_BOOTSTRAP_PEERS"] = "",
        });
        Assert.Multiple(() =>
        {
            Assert.That(config.Network.Listen, Is.EqualTo(new[] { "/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2" }));
            Assert.That(config.Network.Mdns, Is.True);
            Assert.That(config.Node.Tier, Is.EqualTo(2));
            Assert.That(config.Crl.RefreshInterval, Is.EqualTo("2s"));
            Assert.That(config.Network.ExtraBootstrapPeers, Is.Empty);
            Assert.That(config.Metrics.Listen, Is.EqualTo("127.0.0.1:9464"), "absent keys keep their defaults");
        });
    }

    [TestCase("[network]\nlisten_on = []\n", "network.listen_on", "unknown key")]
    [TestCase("[netwrk]\nlisten = []\n", "netwrk", "unknown section")]
    [TestCase("tier = 1\n", "tier", "outside any section")]
    [TestCase("[network]\nlisten = \"/ip4/127.0.0.1/tcp/1\"\n", "network.listen", "expected an array of strings, found a string")]
    [TestCase("[network]\nlisten = [1, 2]\n", "network.listen", "found an array holding an integer")]
    [TestCase("[node]\ntier = \"one\"\n", "node.tier", "expected an integer")]
    [TestCase("[network]\nmdns = \"yes\"\n", "network.mdns", "expected true or false")]
    [TestCase("[network\n", "", "not valid TOML")]
    [TestCase("[node]\ntier = 1\ntier = 2\n", "", "not valid TOML")]
    [TestCase("[node]\ntier = 1\n[node]\ngeo_zone = \"x\"\n", "", "not valid TOML")]
    public void Structural_errors_name_the_key(string toml, string key, string problem)
    {
        var error = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Parse(toml, "node.toml", NoEnvironment))!;
        Assert.That(error.Key, Is.EqualTo(key));
        Assert.That(error.Message, Does.Contain(problem).And.Contain("node.toml"));
        if (key.Length > 0) Assert.That(error.Message, Does.Contain(key));
    }

    [TestCase("KONTINUUM__NETWORK__LISTN", "x", "network.listn", "no such configuration key")]
    [TestCase("KONTINUUM__NODE__TIER", "two", "node.tier", "expected an integer, got 'two'")]
    [TestCase("KONTINUUM__NETWORK__MDNS", "maybe", "network.mdns", "expected true or false")]
    public void Environment_errors_name_the_variable_and_key(string variable, string value, string key, string problem)
    {
        var error = Assert.Throws<NodeConfigException>(() =>
            NodeConfigLoader.Parse("", "node.toml", new Dictionary<string, string> { [variable] = value }))!;
        Assert.That(error.Key, Is.EqualTo(key));
        Assert.That(error.Message, Does.Contain(variable).And.Contain(problem));
    }

    [TestCase("KONTINUUM__NETWORK__LISTEN", "/ip4/999.0.0.1/tcp/1", "network.listen", "not a valid multiaddr")]
    [TestCase("KONTINUUM__NETWORK__EXTRA_BOOTSTRAP_PEERS", "/ip4/127.0.0.1/tcp/1", "network.extra_bootstrap_peers", "/p2p/")]
    [TestCase("KONTINUUM__DHT__MODE", "leader", "dht.mode", "server, client, auto")]
    [TestCase("KONTINUUM__CRL__REFRESH_INTERVAL", "10", "crl.refresh_interval", "not a duration")]
    [TestCase("KONTINUUM__RECORDS__REPUBLISH_INTERVAL", "3d", "records.republish_interval", "outside")]
    [TestCase("KONTINUUM__METRICS__LISTEN", "0.0.0.0:9464", "metrics.listen", "not a loopback address")]
    [TestCase("KONTINUUM__METRICS__LISTEN", "9464", "metrics.listen", "HOST:PORT")]
    [TestCase("KONTINUUM__LOG__LEVEL", "loud", "log.level", "not one of")]
    [TestCase("KONTINUUM__NETWORK__NETWORK", "no-such-genesis.json", "network.network", "neither")]
    [TestCase("KONTINUUM__IDENTITY__KEY_FILE", "missing.key", "identity.key_file", "does not exist")]
    [TestCase("KONTINUUM__IDENTITY__CERT_FILE", "missing.cert", "identity.cert_file", "does not exist")]
    public void Value_errors_name_the_key(string variable, string value, string key, string problem)
    {
        var files = DevnetLayout.Write(Path.Combine(_directory, "dn"), 1, 40200, TimeSpan.FromDays(1), TimeProvider.System);
        var path = files.Nodes[0].ConfigPath;
        var error = Assert.Throws<NodeConfigException>(() =>
            NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, new Dictionary<string, string> { [variable] = value }), path))!;
        Assert.That(error.Key, Is.EqualTo(key), error.Message);
        Assert.That(error.Message, Does.Contain(key).And.Contain(problem));
    }

    [Test]
    public void Non_loopback_metrics_need_explicit_permission()
    {
        var config = NodeConfigLoader.Parse("[metrics]\nlisten = \"0.0.0.0:9464\"\nallow_non_loopback = true\n", "node.toml", NoEnvironment);
        Assert.That(NodeConfigResolver.MetricsEndpoint(config)!.Port, Is.EqualTo(9464));
    }

    [Test]
    public void An_empty_certificate_refuses_server_mode_and_allows_client_mode()
    {
        var files = DevnetLayout.Write(Path.Combine(_directory, "dn"), 1, 40300, TimeSpan.FromDays(1), TimeProvider.System);
        var node = files.Nodes[0];
        File.WriteAllBytes(Path.Combine(node.Directory, "keys", "node.cert"), []);
        var error = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(node.ConfigPath, NoEnvironment), node.ConfigPath))!;
        Assert.That(error.Key, Is.EqualTo("identity.cert_file"));
        Assert.That(error.Message, Does.Contain("no certificate:").And.Contain("dht.mode"));

        using var client = NodeConfigResolver.Resolve(
            NodeConfigLoader.Load(node.ConfigPath, new Dictionary<string, string>
            {
                ["KONTINUUM__DHT__MODE"] = "client", ["KONTINUUM__MAILBOX__ENABLED"] = "false", ["KONTINUUM__ARCHIVE__ENABLED"] = "false",
            }), node.ConfigPath);
        Assert.That(client.Options.Certificate, Is.Null);
        Assert.That(client.Options.DhtMode, Is.EqualTo(DhtMode.Client));
    }

    [Test]
    public void Unreadable_damaged_foreign_or_encrypted_keys_are_named()
    {
        var files = DevnetLayout.Write(Path.Combine(_directory, "dn"), 2, 40400, TimeSpan.FromDays(1), TimeProvider.System);
        var node = files.Nodes[0];
        var keyPath = Path.Combine(node.Directory, "keys", "node.key");
        string Problem(Dictionary<string, string> environment)
        {
            var error = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(node.ConfigPath, environment), node.ConfigPath))!;
            Assert.That(error.Message, Does.Contain(error.Key));
            return $"{error.Key}: {error.Message}";
        }

        // A folder where the key should be cannot be read as one (root reads any file, so permissions cannot show this).
        Assert.That(Problem(new() { ["KONTINUUM__IDENTITY__KEY_FILE"] = node.Directory }), Does.StartWith("identity.key_file").And.Contain("directory"));
        var garbage = Path.Combine(_directory, "garbage.key");
        File.WriteAllText(garbage, "not a key");
        Assert.That(Problem(new() { ["KONTINUUM__IDENTITY__KEY_FILE"] = garbage }), Does.StartWith("identity.key_file").And.Contain("not a Kontinuum key file"));
        // Node 1's key with node 0's certificate: the certificate names another key.
        Assert.That(Problem(new() { ["KONTINUUM__IDENTITY__KEY_FILE"] = Path.Combine(files.Nodes[1].Directory, "keys", "node.key") }),
            Does.StartWith("identity.cert_file").And.Contain("certifies node"));

        using var key = KeyFile.Decode(File.ReadAllBytes(keyPath), KeyFileKind.Node, null);
        var encrypted = Path.Combine(_directory, "encrypted.key");
        File.WriteAllBytes(encrypted, KeyFile.EncodeEncrypted(key, KeyFileKind.Node, "right passphrase", new KdfParameters(1024, 1)));
        Assert.That(Problem(new() { ["KONTINUUM__IDENTITY__KEY_FILE"] = encrypted, ["KONTINUUM__IDENTITY__PASSPHRASE_ENV"] = "KP_TEST_UNSET_VARIABLE" }),
            Does.StartWith("identity.key_file").And.Contain("encrypted").And.Contain("KP_TEST_UNSET_VARIABLE"));
        var wrong = Path.Combine(_directory, "wrong.txt");
        File.WriteAllText(wrong, "wrong passphrase");
        Assert.That(Problem(new() { ["KONTINUUM__IDENTITY__KEY_FILE"] = encrypted, ["KONTINUUM__IDENTITY__PASSPHRASE_FILE"] = wrong }),
            Does.StartWith("identity.key_file").And.Contain("cannot decrypt"));
        var right = Path.Combine(_directory, "right.txt");
        File.WriteAllText(right, "right passphrase\n");
        using var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(node.ConfigPath, new Dictionary<string, string>
        {
            ["KONTINUUM__IDENTITY__KEY_FILE"] = encrypted,
            ["KONTINUUM__IDENTITY__PASSPHRASE_FILE"] = right,
        }), node.ConfigPath);
        Assert.That(resolved.Options.Identity!.PeerId, Is.EqualTo(key.PeerId));
    }

    [Test]
    public void What_node_bootstrap_writes_loads()
    {
        using var key = Ed25519Identity.Generate();
        var files = Certs.NodeIdentity.NodeFiles.Write(_directory, key, null, KdfParameters.NodeKey, new Certs.NodeIdentity.NodeSettings(Network: "open"));
        var config = NodeConfigLoader.Load(files.ConfigPath, NoEnvironment);
        using var resolved = NodeConfigResolver.Resolve(config, files.ConfigPath);
        Assert.Multiple(() =>
        {
            Assert.That(resolved.Options.Identity!.PeerId, Is.EqualTo(key.PeerId));
            Assert.That(resolved.Options.Certificate, Is.Null, "node.cert starts empty");
            Assert.That(resolved.Options.Network.Name, Is.EqualTo("open"));
            Assert.That(resolved.Options.DataDirectory, Is.EqualTo(Path.Combine(_directory, "data")));
        });
    }

    [TestCase("500ms", 500)]
    [TestCase("30s", 30_000)]
    [TestCase("10m", 600_000)]
    [TestCase("1.5h", 5_400_000)]
    public void Durations_parse(string text, double milliseconds) =>
        Assert.That(ConfigDuration.TryParse(text)!.Value.TotalMilliseconds, Is.EqualTo(milliseconds));

    [TestCase("10")]
    [TestCase("-1s")]
    [TestCase("0s")]
    [TestCase("5 weeks")]
    public void Bad_durations_are_refused(string text) => Assert.That(ConfigDuration.TryParse(text), Is.Null);
}
