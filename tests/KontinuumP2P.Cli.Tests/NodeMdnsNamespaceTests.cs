using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using KontinuumP2P.Cli.Commands;
using KontinuumP2P.Node.Records;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// <c>kontinuum node run</c> with <c>network.mdns = true</c> and no bootstrap peer at all, as real processes inside a
/// network namespace of the test's own (only <c>lo</c>): three devnet nodes find each other by mDNS alone, pass
/// admission and fill each other's routing tables; a node certified by foreign anchors is found too and kept out.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class NodeMdnsNamespaceTests
{
    private const int Nodes = 3;
    // The namespace is new and empty, so fixed ports cannot collide with anything.
    private const int BasePort = 4100;
    private const int ForeignBasePort = 4120;
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DiscoveryDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ResolveDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(20);

    private Tier0CliHarness _cli = null!;
    private CliNetworkNamespace? _ns;
    private readonly List<NamespacedProcess> _nodes = [];

    [SetUp]
    public void SetUp() => _cli = new Tier0CliHarness();

    [TearDown]
    public void TearDown()
    {
        try
        {
            if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed)
            {
                // Full logs as attachments (the failure is usually a race between connections and admission).
                foreach (var node in _nodes)
                {
                    var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"mdns-{TestContext.CurrentContext.Test.ID}-{node.Name}.log");
                    File.WriteAllText(path, node.Errors);
                    TestContext.AddTestAttachment(path, $"{node.Name} stderr");
                    TestContext.Out.WriteLine($"--- {node.Name} stderr: {path}; tail ---\n{Tail(node.Errors, 2000)}");
                }
            }
            _ns?.Dispose(); // stops every process it started, then deletes the namespace
        }
        finally
        {
            _cli.Dispose();
        }
    }

    [Test]
    public async Task Three_nodes_without_bootstrap_peers_find_and_admit_each_other_by_mdns_and_keep_a_foreign_node_out(CancellationToken ct)
    {
        _ns = CliNetworkNamespace.Create();
        var init = await RunJsonAsync(["devnet", "init", "--dir", _cli.PathOf("dn"), "--nodes", $"{Nodes}", "--base-port", $"{BasePort}", "--json"]);
        var genesis = init.GetProperty("genesis").GetString()!;
        var members = init.GetProperty("nodes").EnumerateArray()
            .Select(n => (PeerId: n.GetProperty("peerId").GetString()!, Config: n.GetProperty("config").GetString()!, Metrics: n.GetProperty("metrics").GetString()!))
            .ToList();
        var foreignInit = await RunJsonAsync(["devnet", "init", "--dir", _cli.PathOf("foreign"), "--nodes", "1", "--base-port", $"{ForeignBasePort}", "--json"]);
        var foreign = foreignInit.GetProperty("nodes")[0];
        var foreignId = foreign.GetProperty("peerId").GetString()!;

        // mDNS is the only way to meet: no bootstrap peer, no reconnect loop. Debug logs carry the admission verdicts.
        var environment = new Dictionary<string, string>
        {
            ["KONTINUUM__NETWORK__MDNS"] = "true",
            ["KONTINUUM__NETWORK__EXTRA_BOOTSTRAP_PEERS"] = "",
            ["KONTINUUM__NETWORK__BOOTSTRAP_RECONNECT"] = "false",
            ["KONTINUUM__RECORDS__REPUBLISH_INTERVAL"] = "2s",
            ["KONTINUUM__LOG__LEVEL"] = "debug",
        };
        var startedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Nodes; i++) _nodes.Add(_ns.StartCli($"node-{i}", environment, "node", "run", "--config", members[i].Config, "--json"));
        // Same genesis, so the same protocols and mDNS service, but a certificate from the other devnet's anchors.
        _nodes.Add(_ns.StartCli("foreign", new Dictionary<string, string>(environment) { ["KONTINUUM__NETWORK__NETWORK"] = genesis },
            "node", "run", "--config", foreign.GetProperty("config").GetString()!, "--json"));

        var firstLines = new List<JsonElement>();
        foreach (var node in _nodes) firstLines.Add(await node.FirstLineAsync(StartDeadline, ct));
        var allUp = clock.Elapsed;
        for (var i = 0; i < Nodes; i++) Assert.That(firstLines[i].GetProperty("peerId").GetString(), Is.EqualTo(members[i].PeerId));
        Assert.That(firstLines[Nodes].GetProperty("peerId").GetString(), Is.EqualTo(foreignId));
        foreach (var node in _nodes)
        {
            // The namespace has only lo: mDNS must have joined the group there, and nowhere else.
            Assert.That(Regex.IsMatch(node.Errors, @"mDNS started as [a-z0-9]+\._p2p-[0-9a-f]{32}\._udp\.local on lo, service "), Is.True,
                $"{node.Name} did not start mDNS on lo alone:\n{Tail(node.Errors, 3000)}");
        }

        // Poll every routing table until each certified node holds the other two; the foreign node must never show up.
        var tables = new List<List<string>>();
        var rounds = 0;
        var complete = false;
        while (!complete && clock.Elapsed - allUp < DiscoveryDeadline && rounds++ < 60)
        {
            tables = [.. await Task.WhenAll(members.Select(m => TablePeersAsync(m.Metrics, ct)))];
            AssertForeignOutside(tables, foreignId);
            complete = Enumerable.Range(0, Nodes).All(i => members.Where((_, j) => j != i).All(m => tables[i].Contains(m.PeerId)));
            if (!complete) await Task.Delay(500, ct);
        }
        var discovered = clock.Elapsed;
        Assert.That(complete, Is.True, $"routing tables incomplete {DiscoveryDeadline} after all nodes were up: " +
            string.Join("; ", tables.Select((t, i) => $"node-{i} [{string.Join(' ', t)}]")));
        // The DHT logs each routing-table addition with a timestamp: the last needed one is the discovery time without
        // the polling granularity.
        var added = Enumerable.Range(0, Nodes).SelectMany(i => members.Where((_, j) => j != i)
            .Select(m => FirstLogged(_nodes[i].Errors, $"Routing table: {m.PeerId} added"))).ToList();
        Assert.That(added, Has.All.Not.Null, "a routing-table addition seen by node status was not logged");
        var lastAdded = added.Max()!.Value - startedAt;
        await TestContext.Out.WriteLineAsync($"mDNS discovery: all {Nodes} routing tables complete {lastAdded.TotalSeconds:0.00} s after process start " +
            $"(by the nodes' logs; {(lastAdded - allUp).TotalSeconds:0.00} s after the last of {_nodes.Count} processes printed its first line at " +
            $"{allUp.TotalSeconds:0.0} s); seen by polling after {discovered.TotalSeconds:0.0} s ({rounds} rounds of {Nodes} `node status` processes)");

        // One node's record, fetched through another node's DHT from inside the namespace.
        var record = await ResolveAsync(genesis, firstLines[0].GetProperty("listenAddrs")[0].GetString()!, members[2].PeerId, ct);
        Assert.That(record.PeerId.ToString(), Is.EqualTo(members[2].PeerId));
        Assert.That(record.HasValidSignature(), Is.True);
        Assert.That(record.Addresses.Select(a => a.ToString()), Does.Contain($"/ip4/127.0.0.1/tcp/{BasePort + 4}"));

        // The foreign node was met over mDNS and judged: every certified node refused it, and it never entered a table.
        var refusedBy = new List<string>();
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(15))
        {
            refusedBy = [.. _nodes.Take(Nodes).Where(n => RefusedInLogs(n, foreignId)).Select(n => n.Name)];
            if (refusedBy.Count == Nodes) break;
            await Task.Delay(500, ct);
        }
        Assert.That(refusedBy, Has.Count.EqualTo(Nodes), $"not every node judged the foreign node Refused; only: {string.Join(' ', refusedBy)}");
        var metByMdns = _nodes.Take(Nodes).Any(n => n.Errors.Contains($"connected to {foreignId} found by Mdns", StringComparison.Ordinal))
            || members.Any(m => _nodes[Nodes].Errors.Contains($"connected to {m.PeerId} found by Mdns", StringComparison.Ordinal));
        Assert.That(metByMdns, Is.True, "no connection between the foreign node and the devnet was made from an mDNS discovery");
        AssertForeignOutside([.. await Task.WhenAll(members.Select(m => TablePeersAsync(m.Metrics, ct)))], foreignId);
        // Not even for a moment between two polls.
        foreach (var node in _nodes.Take(Nodes))
            Assert.That(FirstLogged(node.Errors, $"Routing table: {foreignId} added"), Is.Null, $"the foreign node was added to {node.Name}'s routing table");
        foreach (var node in _nodes) Assert.That(node.HasExited, Is.False, $"{node.Name} exited:\n{Tail(node.Errors, 3000)}");
    }

    /// <summary>The timestamp of the first JSON log line whose message is <paramref name="message"/>.</summary>
    private static DateTimeOffset? FirstLogged(string errors, string message)
    {
        var needle = $"\"Message\":\"{message}\"";
        foreach (var line in errors.Split('\n'))
        {
            if (!line.Contains(needle, StringComparison.Ordinal)) continue;
            using var entry = JsonDocument.Parse(line);
            return DateTimeOffset.Parse(entry.RootElement.GetProperty("Timestamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        }
        return null;
    }

    private static void AssertForeignOutside(List<List<string>> tables, string foreignId)
    {
        for (var i = 0; i < tables.Count; i++)
            Assert.That(tables[i], Does.Not.Contain(foreignId), $"the foreign-certified node entered node-{i}'s routing table");
    }

    /// <summary>A refusal is logged at information level with the peer and the reason.</summary>
    private static bool RefusedInLogs(NamespacedProcess node, string peerId) =>
        node.Errors.Contains($"peer {peerId} refused:", StringComparison.Ordinal);

    private async Task<List<string>> TablePeersAsync(string metrics, CancellationToken ct)
    {
        var result = await _ns!.RunCliAsync(CliTimeout, ct, "node", "status", "--metrics-address", metrics, "--json");
        Assert.That(result.Code, Is.Zero, $"node status {metrics}: {result.Error}");
        using var document = JsonDocument.Parse(result.Output);
        return [.. document.RootElement.GetProperty("routingTable").EnumerateArray().Select(e => e.GetProperty("peerId").GetString()!)];
    }

    /// <summary>
    /// <c>dht get /node/&lt;id&gt;</c> through <paramref name="bootstrap"/>, retried (bounded) while the record is still
    /// on its way: a node with an empty table at start publishes it at its next republish.
    /// </summary>
    private async Task<NodeRecord> ResolveAsync(string genesis, string bootstrap, string peerId, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        CliResult? last = null;
        for (var attempt = 0; attempt < 10 && watch.Elapsed < ResolveDeadline; attempt++)
        {
            last = await _ns!.RunCliAsync(CliTimeout, ct, "dht", "get", $"/node/{peerId}", "--network", genesis, "--bootstrap", bootstrap, "--json");
            if (last.Code == 0)
            {
                using var document = JsonDocument.Parse(last.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
                await TestContext.Out.WriteLineAsync($"dht get /node/{peerId} answered after {watch.Elapsed.TotalSeconds:0.0} s ({attempt + 1} attempt(s))");
                return NodeRecord.Decode(Convert.FromBase64String(document.RootElement.GetProperty("value").GetString()!));
            }
            await Task.Delay(1000, ct);
        }
        Assert.Fail($"dht get /node/{peerId} found nothing within {ResolveDeadline}: {last?.Error}");
        throw new InvalidOperationException("unreachable");
    }

    private static async Task<JsonElement> RunJsonAsync(string[] args)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var code = await LineWriter.InvokeAsync(DevnetCommand.Create(), args, output, error, CancellationToken.None);
        Assert.That(code, Is.Zero, $"kontinuum {string.Join(' ', args)}\n{error.Text}");
        using var document = JsonDocument.Parse(output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        return document.RootElement.Clone();
    }

    private static string Tail(string text, int length) => text.Length <= length ? text : text[^length..];
}
