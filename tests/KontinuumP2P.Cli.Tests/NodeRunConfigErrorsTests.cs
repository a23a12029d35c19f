using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

/// <summary><c>node run</c> and <c>node status</c> refuse bad configuration with a message naming the key and exit code 2.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class NodeRunConfigErrorsTests
{
    private Tier0CliHarness _cli = null!;
    private string _config = null!;
    private string _nodeDirectory = null!;
    private string _metrics = null!;

    [SetUp]
    public async Task SetUp()
    {
        _cli = new Tier0CliHarness();
        var port = NodeProcess.FreePortRange(4);
        var init = await LineWriterRunAsync(DevnetCommand.Create(), ["devnet", "init", "--dir", _cli.PathOf("dn"), "--nodes", "1", "--base-port", $"{port}", "--json"]);
        Assert.That(init.Code, Is.Zero, init.Error);
        using (var written = JsonDocument.Parse(init.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]))
            _metrics = written.RootElement.GetProperty("nodes")[0].GetProperty("metrics").GetString()!;
        _nodeDirectory = _cli.PathOf(Path.Combine("dn", "node-0"));
        _config = Path.Combine(_nodeDirectory, "config", "node.toml");
    }

    [TearDown]
    public void TearDown() => _cli.Dispose();

    [TestCase("[network]", "listen_on = [\"/ip4/127.0.0.1/tcp/1\"]", "network.listen_on", "unknown key")]
    [TestCase("[node]", "rank = 2", "node.rank", "unknown key")]
    [TestCase("[crl]", "refresh_interval = 5", "crl.refresh_interval", "expected a string, found an integer")]
    [TestCase("[network]", "mdns = \"no\"", "network.mdns", "expected true or false")]
    [TestCase("[dht]", "mode = \"leader\"", "dht.mode", "not one of")]
    public async Task Bad_keys_are_named(string section, string line, string key, string problem, CancellationToken ct)
    {
        // The bad line replaces the section's existing key of that name, so nothing else about the file changes.
        var name = line[..line.IndexOf(' ', StringComparison.Ordinal)];
        var lines = File.ReadAllLines(_config).Where(l => !l.StartsWith(name + " =", StringComparison.Ordinal)).ToList();
        lines.Insert(lines.IndexOf(section) + 1, line);
        File.WriteAllLines(_config, lines);
        var result = await RunNodeAsync(ct, "run", "--config", _config);
        Assert.That(result.Code, Is.EqualTo(2), result.Error);
        Assert.That(result.Error, Does.Contain(key).And.Contain(problem));
    }

    [Test]
    public async Task A_key_given_twice_is_refused(CancellationToken ct)
    {
        File.AppendAllText(_config, "\n[node]\ntier = 1\n");
        var result = await RunNodeAsync(ct, "run", "--config", _config);
        Assert.That(result.Code, Is.EqualTo(2), result.Error);
        Assert.That(result.Error, Does.Contain("not valid TOML"));
    }

    [Test]
    public async Task A_missing_certificate_is_named(CancellationToken ct)
    {
        File.WriteAllBytes(Path.Combine(_nodeDirectory, "keys", "node.cert"), []);
        var result = await RunNodeAsync(ct, "run", "--config", _config);
        Assert.That(result.Code, Is.EqualTo(2), result.Error);
        Assert.That(result.Error, Does.Contain("identity.cert_file").And.Contain("no certificate"));
    }

    [Test]
    public async Task An_unreadable_key_file_is_named(CancellationToken ct)
    {
        var keyPath = Path.Combine(_nodeDirectory, "keys", "node.key");
        File.Delete(keyPath);
        Directory.CreateDirectory(keyPath); // root reads any file: a folder in its place is what stays unreadable
        var result = await RunNodeAsync(ct, "run", "--config", _config);
        Assert.That(result.Code, Is.EqualTo(2), result.Error);
        Assert.That(result.Error, Does.Contain("identity.key_file").And.Contain(keyPath));
    }

    [Test]
    public async Task A_missing_config_file_is_named(CancellationToken ct)
    {
        var result = await RunNodeAsync(ct, "run", "--config", _cli.PathOf("none.toml"));
        Assert.That(result.Code, Is.EqualTo(2), result.Error);
        Assert.That(result.Error, Does.Contain("none.toml").And.Contain("does not exist"));
    }

    [Test]
    public async Task A_taken_metrics_port_fails_before_the_node_starts(CancellationToken ct)
    {
        var taken = IPEndPoint.Parse(_metrics);
        using var squatter = new TcpListener(taken);
        squatter.Start();
        var result = await RunNodeAsync(ct, "run", "--config", _config);
        Assert.That(result.Code, Is.EqualTo(1), result.Error);
        Assert.That(result.Error, Does.Contain("metrics.listen").And.Contain(_metrics));
        // Nothing of the node ran: no first line, no store opened in its data folder (logs go to the real stderr).
        Assert.That(result.Output, Is.Empty);
        Assert.That(File.Exists(Path.Combine(_nodeDirectory, "data", "dht.db")), Is.False, "the node's store was opened");
    }

    [Test]
    public async Task Status_without_a_running_node_says_so(CancellationToken ct)
    {
        var result = await RunNodeAsync(ct, "status", "--config", _config);
        Assert.That(result.Code, Is.EqualTo(1), result.Error);
        Assert.That(result.Error, Does.Contain("no node answers on http://127.0.0.1:"));
        var bad = await RunNodeAsync(ct, "status", "--metrics-address", "nonsense");
        Assert.That(bad.Code, Is.EqualTo(2), bad.Error);
        Assert.That(bad.Error, Does.Contain("--metrics-address"));
    }

    private static Task<CliResult> RunNodeAsync(CancellationToken ct, params string[] args) =>
        LineWriterRunAsync(NodeIdentityCommands.Create(), ["node", .. args], ct);

    private static async Task<CliResult> LineWriterRunAsync(System.CommandLine.Command group, string[] args, CancellationToken ct = default)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var code = await LineWriter.InvokeAsync(group, args, output, error, ct);
        return new CliResult(code, output.Text, error.Text);
    }
}
