using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// Issue 6 end to end with real processes: <c>devnet init</c>, five <c>node run</c> processes, an uncertified client and
/// a node certified by foreign anchors, revocation through the CLI, and a SIGTERM restart. Prints the figures.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(170_000)]
public sealed class MultiProcessDevnetTests
{
    private const int Nodes = 5;
    private static readonly TimeSpan ResolvableDeadline = TimeSpan.FromSeconds(60);
    /// <summary>The stated bound: with a 1 s CRL refresh, a revoked node leaves every routing table within this.</summary>
    private static readonly TimeSpan RevocationBound = TimeSpan.FromSeconds(20);

    private readonly List<NodeProcess> _processes = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(35) };
    private Tier0CliHarness _cli = null!;

    [SetUp]
    public void SetUp() => _cli = new Tier0CliHarness();

    [TearDown]
    public void TearDown()
    {
        foreach (var process in _processes)
        {
            if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed)
                TestContext.Out.WriteLine($"--- {process.Name} stderr (tail) ---\n{Tail(process.Errors, 4000)}");
            process.Dispose();
        }
        _http.Dispose();
        _cli.Dispose();
    }

    [Test]
    public async Task Five_processes_resolve_each_other_keep_outsiders_out_revoke_and_restart(CancellationToken ct)
    {
        var basePort = NodeProcess.FreePortRange(2 * Nodes + 4);
        var init = await RunJsonAsync(DevnetCommand.Create(), ["devnet", "init", "--dir", _cli.PathOf("dn"), "--nodes", $"{Nodes}", "--base-port", $"{basePort}", "--json"]);
        var genesis = init.GetProperty("genesis").GetString()!;
        var nodes = init.GetProperty("nodes").EnumerateArray().Select(n => new DevnetNode(
            n.GetProperty("peerId").GetString()!, n.GetProperty("config").GetString()!, n.GetProperty("listenAddr").GetString()!,
            n.GetProperty("metrics").GetString()!)).ToList();
        var bootstrap = nodes[0].ListenAddr;
        // Fast loops so the test sees revocation and republication within seconds.
        var fast = new Dictionary<string, string>
        {
            ["KONTINUUM__CRL__REFRESH_INTERVAL"] = "1s",
            ["KONTINUUM__RECORDS__REPUBLISH_INTERVAL"] = "3s",
            ["KONTINUUM__LOG__LEVEL"] = "information",
        };

        // 1. Five certified nodes, started together, each a separate process.
        var started = Stopwatch.StartNew();
        var running = nodes.Select((n, i) => Start($"node-{i}", fast, n.Config)).ToList();
        for (var i = 0; i < Nodes; i++)
        {
            var first = await running[i].FirstLineAsync(TimeSpan.FromSeconds(40), ct);
            Assert.That(first.GetProperty("peerId").GetString(), Is.EqualTo(nodes[i].PeerId));
        }

        // 2. Outsiders: an uncertified client (written by `node bootstrap`) and a node certified by another devnet's anchors.
        var outsiders = await StartOutsidersAsync(genesis, bootstrap, basePort + 2 * Nodes, fast, ct);

        // 3. Every node resolves every other node's record.
        var admissionSeen = new HashSet<string>();
        var missing = new List<string>();
        var resolved = await PollAsync(ResolvableDeadline, async () =>
        {
            await AssertOutsidersNeverInTablesAsync(nodes, outsiders, admissionSeen, ct);
            var pairs = nodes.SelectMany(a => nodes.Where(b => b != a).Select(b => (From: nodes.IndexOf(a), To: nodes.IndexOf(b)))).ToList();
            var found = await Task.WhenAll(pairs.Select(p => ResolveAsync(nodes[p.From].Metrics, nodes[p.To].PeerId, ct)));
            missing = [.. pairs.Where((p, i) => !found[i]).Select(p => $"{p.From}->{p.To}")];
            return missing.Count == 0;
        }, ct);
        Assert.That(resolved, Is.True, $"not every node resolved every other node's record within {ResolvableDeadline}; unresolved: {string.Join(' ', missing)}");
        var resolvable = started.Elapsed;
        var rss = running.Select(p => p.ResidentKiB()).ToList();
        Assert.That(await ResolveAsync(outsiders.ClientMetrics, nodes[3].PeerId, ct), Is.True, "a certificate-less client may query");

        // 4. The outsiders connected (their verdicts were seen) yet never entered a routing table.
        await PollAsync(TimeSpan.FromSeconds(15), async () =>
        {
            await AssertOutsidersNeverInTablesAsync(nodes, outsiders, admissionSeen, ct);
            return admissionSeen.IsSupersetOf(["ClientOnly", "Refused"]);
        }, ct);
        Assert.That(admissionSeen, Is.SupersetOf(new[] { "ClientOnly", "Refused" }), "the outsiders were never judged: did they connect?");

        // 5. Revoke node 3 through the CLI and time its removal from every other routing table.
        var revoked = nodes[3];
        await RunJsonAsync(CertCommands.Create(), ["cert", "revoke", "--node-id", revoked.PeerId, "--output", _cli.PathOf("crl.draft"), "--json"]);
        await RunJsonAsync(CrlCommands.Create(), ["crl", "sign", _cli.PathOf("crl.draft"), "--key", init.GetProperty("anchorKey").GetString()!,
            "--output", _cli.PathOf("crl.partial"), "--json"]);
        await RunJsonAsync(CrlCommands.Create(), ["crl", "assemble", _cli.PathOf("crl.draft"), "--partial", _cli.PathOf("crl.partial"),
            "--anchors", init.GetProperty("anchors").GetString()!, "--output", _cli.PathOf("crl.signed"), "--json"]);
        var revocation = Stopwatch.StartNew();
        var published = await RunJsonAsync(CrlCommands.Create(), ["crl", "publish", _cli.PathOf("crl.signed"), "--network", genesis, "--bootstrap", bootstrap, "--json"]);
        Assert.That(published.GetProperty("crlNumber").GetUInt64(), Is.EqualTo(1));
        Assert.That(published.GetProperty("stored").GetInt32(), Is.GreaterThanOrEqualTo(1));
        var others = nodes.Where(n => n != revoked).ToList();
        var gone = await PollAsync(RevocationBound, async () =>
        {
            var statuses = await Task.WhenAll(others.Select(n => StatusAsync(n.Metrics, ct)));
            return statuses.All(s => s.GetProperty("crlNumber").GetUInt64() == 1 && !TablePeers(s).Contains(revoked.PeerId));
        }, ct);
        var propagation = revocation.Elapsed;
        Assert.That(gone, Is.True, $"node 3 still in a routing table {RevocationBound} after the CRL was published");
        // Wait until every other node has started two more republish lookups (3 s interval), so at least one full lookup
        // ran after the removal: that lookup meets node 3 through its neighbours and would re-add it if admission let it.
        var republishes = await Task.WhenAll(others.Select(n => RepublishLookupsAsync(n.Metrics, ct)));
        var lookedUp = await PollAsync(TimeSpan.FromSeconds(30), async () =>
        {
            var now = await Task.WhenAll(others.Select(n => RepublishLookupsAsync(n.Metrics, ct)));
            return now.Zip(republishes).All(p => p.First >= p.Second + 2);
        }, ct);
        Assert.That(lookedUp, Is.True, "a node ran no republish lookup within 30 s of the revocation");
        foreach (var node in others)
            Assert.That(TablePeers(await StatusAsync(node.Metrics, ct)), Does.Not.Contain(revoked.PeerId), "a revoked node came back");

        // 6. SIGTERM node 2, restart it without any bootstrap peer: same PeerId, routing table reseeded from its snapshot.
        var (code, stopTook) = await running[2].TerminateAsync(TimeSpan.FromSeconds(15), ct);
        Assert.That(code, Is.Zero, running[2].Errors);
        Assert.That(running[2].Errors, Does.Contain("saved").And.Contain("routing entries"));
        var alone = new Dictionary<string, string>(fast)
        {
            ["KONTINUUM__NETWORK__EXTRA_BOOTSTRAP_PEERS"] = "",
            ["KONTINUUM__NETWORK__BOOTSTRAP_RECONNECT"] = "false",
        };
        var restarted = Start("node-2-restarted", alone, nodes[2].Config);
        var again = await restarted.FirstLineAsync(TimeSpan.FromSeconds(40), ct);
        Assert.That(again.GetProperty("peerId").GetString(), Is.EqualTo(nodes[2].PeerId));
        var reseeded = System.Text.RegularExpressions.Regex.Match(restarted.Errors, @"with (\d+) routing entries reseeded from the snapshot");
        Assert.That(reseeded.Success && int.Parse(reseeded.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, Is.True,
            "the restarted node did not reseed from its snapshot:\n" + Tail(restarted.Errors, 3000));
        var status = await StatusAsync(nodes[2].Metrics, ct);
        Assert.That(status.GetProperty("routingTableSize").GetInt32(), Is.GreaterThan(0));
        Assert.That(TablePeers(status), Does.Not.Contain(revoked.PeerId), "the snapshot must not bring a revoked node back");

        TestContext.Out.WriteLine($"figures: {Nodes}-process devnet fully resolvable after {resolvable.TotalSeconds:0.0} s (from process start); " +
            $"revocation gone from all {others.Count} other routing tables {propagation.TotalSeconds:0.0} s after `crl publish` " +
            $"(crl.refresh_interval 1s, bound {RevocationBound.TotalSeconds:0} s); SIGTERM stop {stopTook.TotalMilliseconds:0} ms; " +
            $"RSS per node process KiB [{string.Join(", ", rss)}] (mean {rss.Average() / 1024:0.0} MiB)");
    }

    private sealed record DevnetNode(string PeerId, string Config, string ListenAddr, string Metrics);

    private sealed record Outsiders(string ClientPeerId, string ClientMetrics, string ForeignPeerId);

    private NodeProcess Start(string name, IReadOnlyDictionary<string, string> environment, string config, params string[] extra)
    {
        var process = NodeProcess.Start(name, environment, ["node", "run", "--config", config, "--json", .. extra]);
        _processes.Add(process);
        return process;
    }

    private async Task<Outsiders> StartOutsidersAsync(string genesis, string bootstrap, int port, Dictionary<string, string> fast, CancellationToken ct)
    {
        var boot = await RunJsonAsync(NodeIdentityCommands.Create(), ["node", "bootstrap", "--output", _cli.PathOf("uncertified"), "--network", genesis,
            "--passphrase-env", "KP_TEST_UNSET_VARIABLE", "--kdf-memory-mib", "1", "--kdf-passes", "1", "--json"]);
        var clientMetrics = $"127.0.0.1:{port + 1}";
        var client = Start("uncertified", new Dictionary<string, string>(fast)
        {
            ["KONTINUUM__NETWORK__LISTEN"] = $"/ip4/127.0.0.1/tcp/{port}",
            ["KONTINUUM__NETWORK__EXTRA_BOOTSTRAP_PEERS"] = bootstrap,
            ["KONTINUUM__DHT__MODE"] = "client", // no certificate: server mode is refused at start (see NodeRunConfigErrorsTests)
            ["KONTINUUM__METRICS__LISTEN"] = clientMetrics,
        }, boot.GetProperty("config").GetString()!);
        var foreignInit = await RunJsonAsync(DevnetCommand.Create(), ["devnet", "init", "--dir", _cli.PathOf("foreign"), "--nodes", "1",
            "--base-port", $"{port + 2}", "--json"]);
        var foreignNode = foreignInit.GetProperty("nodes")[0];
        // A server with a well-formed certificate from other anchors, pointed at our network.
        var foreign = Start("foreign", new Dictionary<string, string>(fast)
        {
            ["KONTINUUM__NETWORK__NETWORK"] = genesis,
            ["KONTINUUM__NETWORK__EXTRA_BOOTSTRAP_PEERS"] = bootstrap,
        }, foreignNode.GetProperty("config").GetString()!);
        var clientLine = await client.FirstLineAsync(TimeSpan.FromSeconds(40), ct);
        await foreign.FirstLineAsync(TimeSpan.FromSeconds(40), ct);
        return new Outsiders(clientLine.GetProperty("peerId").GetString()!, clientMetrics, foreignNode.GetProperty("peerId").GetString()!);
    }

    private async Task AssertOutsidersNeverInTablesAsync(List<DevnetNode> nodes, Outsiders outsiders, HashSet<string> admissionSeen, CancellationToken ct)
    {
        foreach (var node in nodes)
        {
            var peers = TablePeers(await StatusAsync(node.Metrics, ct));
            Assert.That(peers, Does.Not.Contain(outsiders.ClientPeerId), $"the uncertified client entered {node.PeerId}'s routing table");
            Assert.That(peers, Does.Not.Contain(outsiders.ForeignPeerId), $"the foreign-certified node entered {node.PeerId}'s routing table");
            var metrics = await _http.GetStringAsync(new Uri($"http://{node.Metrics}/metrics"), ct);
            foreach (var verdict in new[] { "ClientOnly", "Refused" })
            {
                if (System.Text.RegularExpressions.Regex.IsMatch(metrics, $"kontinuum_node_peers\\{{verdict=\"{verdict}\"\\}} [1-9]")) admissionSeen.Add(verdict);
            }
        }
    }

    /// <summary>How many put-value lookups (republish) the node has started, from its Prometheus counter.</summary>
    private async Task<long> RepublishLookupsAsync(string metrics, CancellationToken ct)
    {
        var text = await _http.GetStringAsync(new Uri($"http://{metrics}/metrics"), ct);
        var match = System.Text.RegularExpressions.Regex.Match(text, "^kontinuum_dht_queries_total\\{kind=\"put-value\"\\} (\\d+)",
            System.Text.RegularExpressions.RegexOptions.Multiline);
        return match.Success ? long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    private async Task<bool> ResolveAsync(string metrics, string peerId, CancellationToken ct)
    {
        var answer = await _http.GetFromJsonAsync<JsonElement>(new Uri($"http://{metrics}/resolve/{peerId}"), ct);
        return answer.GetProperty("found").GetBoolean();
    }

    private async Task<JsonElement> StatusAsync(string metrics, CancellationToken ct)
    {
        var result = await RunCliAsync(NodeIdentityCommands.Create(), ["node", "status", "--metrics-address", metrics, "--json"]);
        Assert.That(result.Code, Is.Zero, result.Error);
        using var document = JsonDocument.Parse(result.Output);
        return document.RootElement.Clone();
    }

    private static List<string> TablePeers(JsonElement status) =>
        [.. status.GetProperty("routingTable").EnumerateArray().Select(e => e.GetProperty("peerId").GetString()!)];

    /// <summary>Repeats <paramref name="check"/> every 500 ms until it holds or the deadline passes.</summary>
    private static async Task<bool> PollAsync(TimeSpan deadline, Func<Task<bool>> check, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < deadline)
        {
            if (await check()) return true;
            await Task.Delay(500, ct);
        }
        return await check();
    }

    private static async Task<JsonElement> RunJsonAsync(System.CommandLine.Command group, string[] args)
    {
        var result = await RunCliAsync(group, args);
        Assert.That(result.Code, Is.Zero, $"kontinuum {string.Join(' ', args)}\n{result.Error}");
        using var document = JsonDocument.Parse(result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        return document.RootElement.Clone();
    }

    private static async Task<CliResult> RunCliAsync(System.CommandLine.Command group, string[] args)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var code = await LineWriter.InvokeAsync(group, args, output, error, CancellationToken.None);
        return new CliResult(code, output.Text, error.Text);
    }

    private static string Tail(string text, int length) => text.Length <= length ? text : text[^length..];
}
