using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// Two devnets with mDNS on, as real <c>node run</c> processes on one namespace LAN: each network announces its own
/// service name (from its genesis fingerprint), so each pair finds the other member while neither network ever hears
/// of, let alone dials, a node of the other one.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(150_000)]
public sealed partial class MdnsNetworksApartTests
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DiscoveryDeadline = TimeSpan.FromSeconds(30);
    // Past the first two queries and two periodic ones (10 s apart): every node has asked and answered several times.
    private static readonly TimeSpan ObserveFor = TimeSpan.FromSeconds(25);
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(20);

    private Tier0CliHarness _cli = null!;
    private CliNetworkNamespace? _ns;
    private readonly Dictionary<string, string> _genesis = [];

    [SetUp]
    public void SetUp() => _cli = new Tier0CliHarness();

    [TearDown]
    public void TearDown()
    {
        try
        {
            _ns?.Dispose();
        }
        finally
        {
            _cli.Dispose();
        }
    }

    [Test]
    public async Task Two_devnets_on_one_LAN_find_their_own_members_and_never_dial_each_other(CancellationToken ct)
    {
        _ns = CliNetworkNamespace.Create();
        var a = await InitAsync("a", 4200);
        var b = await InitAsync("b", 4220);
        var environment = new Dictionary<string, string>
        {
            ["KONTINUUM__NETWORK__MDNS"] = "true",
            ["KONTINUUM__NETWORK__EXTRA_BOOTSTRAP_PEERS"] = "",
            ["KONTINUUM__NETWORK__BOOTSTRAP_RECONNECT"] = "false",
            ["KONTINUUM__LOG__LEVEL"] = "debug",
        };
        var clock = Stopwatch.StartNew();
        var nodes = a.Select((m, i) => (Net: "a", m.PeerId, m.Metrics, Process: _ns.StartCli($"a-{i}", environment, "node", "run", "--config", m.Config, "--json")))
            .Concat(b.Select((m, i) => (Net: "b", m.PeerId, m.Metrics, Process: _ns.StartCli($"b-{i}", environment, "node", "run", "--config", m.Config, "--json"))))
            .ToList();
        foreach (var node in nodes) await node.Process.FirstLineAsync(StartDeadline, ct);

        // Each devnet's two members must meet by mDNS alone (otherwise "never dialed" would prove nothing).
        var complete = false;
        for (var round = 0; !complete && round < 60 && clock.Elapsed < StartDeadline + DiscoveryDeadline; round++)
        {
            var tables = await Task.WhenAll(nodes.Select(n => TablePeersAsync(n.Metrics, ct)));
            complete = nodes.Select((n, i) => nodes.Where(o => o.Net == n.Net && o.PeerId != n.PeerId).All(o => tables[i].Contains(o.PeerId))).All(x => x);
            if (!complete) await Task.Delay(500, ct);
        }
        Assert.That(complete, Is.True, "the members of a devnet did not find each other by mDNS:\n" + string.Join("\n", nodes.Select(n => $"{n.Process.Name}: {Tail(n.Process.Errors)}")));
        var met = clock.Elapsed;
        if (ObserveFor - met is { Ticks: > 0 } rest) await Task.Delay(rest, ct);

        var services = nodes.ToDictionary(n => n.Process.Name, n => ServiceOf(n.Process.Errors));
        Assert.That(services.Values, Has.All.Not.Null, "every node logs the mDNS service it announces");
        Assert.That(services["a-0"], Is.EqualTo(services["a-1"]).And.Not.EqualTo(services["b-0"]), "one service per network");
        Assert.That(services["b-0"], Is.EqualTo(services["b-1"]));
        Assert.That(services.Values, Has.None.EqualTo("_p2p._udp.local"), "the public libp2p service is for the open network");
        foreach (var node in nodes)
        {
            foreach (var other in nodes.Where(o => o.Net != node.Net))
            {
                // Not discovered, not dialed, not refused: the other network's ids never reach the node at all.
                Assert.That(node.Process.Errors, Does.Not.Contain(other.PeerId), $"{node.Process.Name} heard of {other.Process.Name} ({other.PeerId})");
            }
            Assert.That(node.Process.HasExited, Is.False, $"{node.Process.Name} exited:\n{Tail(node.Process.Errors)}");
        }
        // `peer discover --network <genesis>` asks that network's service only: it lists a's members and none of b's,
        // and the default (the public libp2p service) hears neither.
        var foundForA = await DiscoverAsync(_genesis["a"], ct);
        Assert.That(foundForA, Is.EquivalentTo(nodes.Where(n => n.Net == "a").Select(n => n.PeerId)), "peer discover --network <genesis of a>");
        Assert.That(await DiscoverAsync(null, ct), Is.Empty, "peer discover on the public service");
        await TestContext.Out.WriteLineAsync($"devnets met their own members after {met.TotalSeconds:0.0} s and stayed apart for {clock.Elapsed.TotalSeconds:0.0} s; " +
            $"services {services["a-0"]} and {services["b-0"]}");
    }

    private async Task<List<(string PeerId, string Config, string Metrics)>> InitAsync(string name, int basePort)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        string[] args = ["devnet", "init", "--dir", _cli.PathOf(name), "--nodes", "2", "--base-port", $"{basePort}", "--json"];
        var code = await LineWriter.InvokeAsync(DevnetCommand.Create(), args, output, error, CancellationToken.None);
        Assert.That(code, Is.Zero, $"kontinuum {string.Join(' ', args)}\n{error.Text}");
        using var document = JsonDocument.Parse(output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        _genesis[name] = document.RootElement.GetProperty("genesis").GetString()!;
        return [.. document.RootElement.GetProperty("nodes").EnumerateArray()
            .Select(n => (n.GetProperty("peerId").GetString()!, n.GetProperty("config").GetString()!, n.GetProperty("metrics").GetString()!))];
    }

    /// <summary>Peers <c>peer discover --mdns</c> prints within its timeout, for a network's genesis (null: the default, open).</summary>
    private async Task<List<string>> DiscoverAsync(string? genesis, CancellationToken ct)
    {
        string[] args = ["peer", "discover", "--mdns", "--timeout", "12", "--json", .. genesis is null ? Array.Empty<string>() : ["--network", genesis]];
        var result = await _ns!.RunCliAsync(CliTimeout, ct, args);
        Assert.That(result.Code, Is.Zero, $"{string.Join(' ', args)}: {result.Error}");
        return [.. result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("peerId").GetString()!).Distinct()];
    }

    private async Task<List<string>> TablePeersAsync(string metrics, CancellationToken ct)
    {
        var result = await _ns!.RunCliAsync(CliTimeout, ct, "node", "status", "--metrics-address", metrics, "--json");
        Assert.That(result.Code, Is.Zero, $"node status {metrics}: {result.Error}");
        using var document = JsonDocument.Parse(result.Output);
        return [.. document.RootElement.GetProperty("routingTable").EnumerateArray().Select(e => e.GetProperty("peerId").GetString()!)];
    }

    private static string? ServiceOf(string errors) => ServiceLine().Match(errors) is { Success: true } m ? m.Groups[1].Value : null;

    [GeneratedRegex(@"mDNS started as [a-z0-9]+\.\S+ on \S+, service (\S+?)""")]
    private static partial Regex ServiceLine();

    private static string Tail(string text) => text.Length <= 2000 ? text : text[^2000..];
}
