using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// 60-second soaks of <c>kontinuum peer listen --mdns</c> as real processes in network namespaces: one host alone on a
/// veth LAN, three hosts on one bridged LAN, one host on loopback only. Each host must stay under 150 MiB resident,
/// use under 5 % of a core while idle, send mDNS within RFC 6762's rates (counted by a capture socket on the LAN and
/// cross-checked against the host's own statistics), and exit within 2 s of its <c>--duration</c>. These are the
/// tests that would have caught the respond loop spinning at 100 MiB/s. The three soaks run concurrently.
/// </summary>
[TestFixture]
[Category("Slow")]
[NonParallelizable]
public sealed partial class MdnsSoakTests
{
    private const int DurationSeconds = 60;
    private const long MaxResidentKiB = 150 * 1024;
    private const double MaxIdleCpuShare = 0.05;
    private static readonly TimeSpan MaxStopLateness = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);
    // The idle window leaves out start-up (JIT, first queries, dials) and the goodbye at the end.
    private static readonly TimeSpan IdleFrom = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan IdleTo = TimeSpan.FromSeconds(55);

    private readonly List<SoakLan> _lans = [];
    private readonly Dictionary<string, Task<SoakReport>> _soaks = [];
    private CancellationTokenSource _stop = null!;

    [OneTimeSetUp]
    public void StartSoaks()
    {
        SoakLan.RequireNamespaces();
        _stop = new CancellationTokenSource(TimeSpan.FromSeconds(DurationSeconds + 90));
        _soaks["alone"] = RunAlone(_stop.Token);
        _soaks["three"] = RunThree(_stop.Token);
        _soaks["loopback"] = RunLoopback(_stop.Token);
        _soaks["control"] = RunControl(_stop.Token);
    }

    [OneTimeTearDown]
    public async Task StopSoaks()
    {
        if (_stop is null) return;
        try
        {
            await Task.WhenAll(_soaks.Values).WaitAsync(TimeSpan.FromSeconds(DurationSeconds + 100));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // each test reports its own soak's failure
        }
        foreach (var lan in _lans) lan.Dispose();
        _stop.Dispose();
    }

    [Test]
    [CancelAfter(200_000)]
    public async Task One_host_alone_on_a_LAN_stays_bounded_idle_within_rate_and_stops_on_time()
    {
        var report = await _soaks["alone"];
        AssertHealthy(report, await _soaks["control"]);
        var host = report.Hosts[0];
        Assert.That(host.Queries, Is.GreaterThanOrEqualTo(2), "the host never queried: the soak proves nothing");
        Assert.That(host.Responses, Is.GreaterThanOrEqualTo(1), "the host never answered its own looped-back query");
    }

    [Test]
    [CancelAfter(200_000)]
    public async Task Three_hosts_on_one_LAN_find_each_other_and_stay_bounded_idle_within_rate_and_stop_on_time()
    {
        var report = await _soaks["three"];
        AssertHealthy(report, await _soaks["control"]);
        foreach (var host in report.Hosts)
        {
            foreach (var other in report.Hosts.Where(h => h != host))
            {
                Assert.That(host.Errors, Does.Contain($"mDNS discovered {other.PeerId}"),
                    $"{host.Name} never discovered {other.Name} through mDNS:\n{Tail(host.Errors)}");
                // One dial per pair is enough: when the other side dialed first, this side finds the peer connected.
                Assert.That(host.Errors.Contains($"connected to {other.PeerId} found by Mdns", StringComparison.Ordinal)
                        || other.Errors.Contains($"connected to {host.PeerId} found by Mdns", StringComparison.Ordinal),
                    Is.True, $"{host.Name} and {other.Name} never connected through mDNS:\n{Tail(host.Errors)}");
            }
        }
    }

    [Test]
    [CancelAfter(200_000)]
    public async Task One_host_on_loopback_only_announces_loopback_and_stays_bounded_idle_within_rate_and_stops_on_time()
    {
        var report = await _soaks["loopback"];
        AssertHealthy(report, await _soaks["control"]);
        var host = report.Hosts[0];
        var announced = report.Captured.Where(p => p.IsResponse && !p.IsGoodbye).SelectMany(p => p.TxtValues).Distinct().ToList();
        Assert.That(announced, Has.Some.StartsWith("dnsaddr=/ip4/127.0.0.1/tcp/").And.EndsWith($"/p2p/{host.PeerId}"),
            $"a host listening on 127.0.0.1 must announce it on lo; announced: {string.Join(' ', announced)}");
    }

    private Task<SoakReport> RunAlone(CancellationToken ct)
    {
        var lan = NewLan();
        var host = lan.AddNamespace("h");
        var wire = lan.AddNamespace("lan");
        lan.Connect(host, "eth0", "10.77.1.2/24", wire, "tap0", "10.77.1.1/24");
        return RunAsync("alone", lan, wire, IPAddress.Parse("10.77.1.1"), [(host, "10.77.1.2")], ct);
    }

    private Task<SoakReport> RunThree(CancellationToken ct)
    {
        var lan = NewLan();
        var wire = lan.AddNamespace("sw");
        lan.AddBridge(wire, "br0", "10.77.2.1/24");
        var hosts = new List<(string, string)>();
        for (var i = 1; i <= 3; i++)
        {
            var ns = lan.AddNamespace($"h{i}");
            lan.Connect(ns, "eth0", $"10.77.2.1{i}/24", wire, $"port{i}", null, bridgeInB: "br0");
            hosts.Add((ns, $"10.77.2.1{i}"));
        }
        return RunAsync("three", lan, wire, IPAddress.Parse("10.77.2.1"), hosts, ct);
    }

    private Task<SoakReport> RunLoopback(CancellationToken ct)
    {
        var lan = NewLan();
        var host = lan.AddNamespace("lo"); // plain lo, as on an offline machine: no MULTICAST flag, no multicast route
        return RunAsync("loopback", lan, host, IPAddress.Loopback, [(host, "127.0.0.1")], ct);
    }

    /// <summary>The same command without mDNS, at the same time: how late the loaded machine lets any process stop.</summary>
    private Task<SoakReport> RunControl(CancellationToken ct)
    {
        var lan = NewLan();
        var host = lan.AddNamespace("ctl");
        return RunAsync("control", lan, host, IPAddress.Loopback, [(host, "127.0.0.1")], ct, mdns: false);
    }

    private SoakLan NewLan()
    {
        var lan = new SoakLan();
        _lans.Add(lan);
        return lan;
    }

    private static async Task<SoakReport> RunAsync(string scenario, SoakLan lan, string captureNamespace, IPAddress captureAddress,
        IReadOnlyList<(string Namespace, string Address)> hosts, CancellationToken ct, bool mdns = true)
    {
        await using var capture = await lan.CaptureAsync(captureNamespace, captureAddress);
        // mDNS also runs on each host's own lo: capture there too, so every packet a host sends is seen exactly once.
        var loopbackCaptures = new List<MdnsCapture?>();
        foreach (var (ns, address) in hosts) loopbackCaptures.Add(address == "127.0.0.1" ? null : await lan.CaptureAsync(ns, IPAddress.Loopback));
        string[] mdnsFlag = mdns ? ["--mdns"] : [];
        var processes = hosts.Select((h, i) => lan.StartCli(h.Namespace, $"{scenario}-{i + 1}", ["peer", "listen", "--network", "open", .. mdnsFlag,
            "--listen", $"/ip4/{h.Address}/tcp/0", "--duration", $"{DurationSeconds}", "--json", "--verbose"])).ToList();
        var firstLines = new List<(string Line, TimeSpan At)>();
        foreach (var process in processes) firstLines.Add(await process.FirstLine.WaitAsync(StartDeadline, ct));

        // Sample memory twice a second, and CPU at both ends of the idle window, until every process has exited.
        var maxRss = new long[processes.Count];
        var cpuAtIdleStart = new TimeSpan?[processes.Count];
        var cpuAtIdleEnd = new TimeSpan?[processes.Count];
        var allExited = Task.WhenAll(processes.Select(p => p.Exited));
        using var ticker = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        while (!allExited.IsCompleted && await ticker.WaitForNextTickAsync(ct))
        {
            var now = MdnsCapture.Clock.Elapsed;
            for (var i = 0; i < processes.Count; i++)
            {
                if (processes[i].ResidentKiB() is { } rss) maxRss[i] = Math.Max(maxRss[i], rss);
                var sinceStart = now - firstLines[i].At;
                if (cpuAtIdleStart[i] is null && sinceStart >= IdleFrom) cpuAtIdleStart[i] = processes[i].CpuTime();
                if (cpuAtIdleEnd[i] is null && sinceStart >= IdleTo) cpuAtIdleEnd[i] = processes[i].CpuTime();
            }
            if (now - firstLines.Max(l => l.At) > TimeSpan.FromSeconds(DurationSeconds + 15)) break; // reported below as late
        }
        // Let the goodbyes sent at exit reach the capture socket.
        await Task.Delay(TimeSpan.FromMilliseconds(300), ct);
        var reports = new List<HostReport>();
        for (var i = 0; i < processes.Count; i++)
        {
            var p = processes[i];
            TimeSpan? exitedAt = p.Exited.IsCompleted ? await p.Exited : null;
            using var first = JsonDocument.Parse(firstLines[i].Line);
            var errors = p.Errors;
            var stats = StoppedLine().Match(errors);
            var idle = cpuAtIdleStart[i] is { } a && cpuAtIdleEnd[i] is { } b ? (b - a) / (IdleTo - IdleFrom) : (double?)null;
            reports.Add(new HostReport(p.Name, first.RootElement.GetProperty("peerId").GetString()!, IPAddress.Parse(hosts[i].Address),
                maxRss[i], idle, exitedAt is { } x ? x - firstLines[i].At - TimeSpan.FromSeconds(DurationSeconds) : null,
                exitedAt is null ? null : p.ExitCode,
                stats.Success ? long.Parse(stats.Groups[1].Value, CultureInfo.InvariantCulture) : null,
                stats.Success ? long.Parse(stats.Groups[2].Value, CultureInfo.InvariantCulture) : null,
                capture.From(IPAddress.Parse(hosts[i].Address)), loopbackCaptures[i]?.From(IPAddress.Loopback) ?? [], errors));
        }
        foreach (var extra in loopbackCaptures) if (extra is not null) await extra.DisposeAsync();
        var report = new SoakReport(scenario, reports, capture.Packets, capture.Malformed);
        await TestContext.Progress.WriteLineAsync(report.Summary());
        return report;
    }

    private static void AssertHealthy(SoakReport report, SoakReport control)
    {
        TestContext.Out.WriteLine(report.Summary());
        TestContext.Out.WriteLine(control.Summary());
        // Under heavy load (CI shares the box) every process stops late; mDNS may add at most MaxStopLateness to that.
        var machineLateness = control.Hosts[0].StopLateness is { Ticks: > 0 } late ? late : TimeSpan.Zero;
        Assert.That(report.Malformed, Is.Zero, "the capture saw malformed mDNS packets");
        foreach (var host in report.Hosts)
        {
            Assert.Multiple(() =>
            {
                Assert.That(host.StopLateness, Is.Not.Null, $"{host.Name} did not exit by itself:\n{Tail(host.Errors)}");
                Assert.That(host.StopLateness, Is.LessThanOrEqualTo(MaxStopLateness + machineLateness),
                    $"{host.Name} stopped late (a plain peer listen stopped {machineLateness.TotalSeconds:0.00} s late)");
                Assert.That(host.ExitCode, Is.Zero, $"{host.Name} failed:\n{Tail(host.Errors)}");
                Assert.That(host.MaxResidentKiB, Is.GreaterThan(0).And.LessThan(MaxResidentKiB), $"{host.Name} resident memory (KiB)");
                Assert.That(host.IdleCpuShare, Is.Not.Null.And.LessThan(MaxIdleCpuShare), $"{host.Name} CPU share of one core while idle");
                Assert.That(host.Queries, Is.Not.Null, $"{host.Name} logged no 'mDNS stopped' statistics:\n{Tail(host.Errors)}");
            });
            var sent = host.Sent.Concat(host.SentOnLoopback).ToList();
            Assert.Multiple(() =>
            {
                // Cross-check: what left the host is exactly what it counted (goodbyes are counted as responses).
                Assert.That(sent.Count(p => !p.IsResponse), Is.EqualTo(host.Queries), $"{host.Name}: queries captured vs counted by the service");
                Assert.That(sent.Count(p => p.IsResponse), Is.EqualTo(host.Responses), $"{host.Name}: responses captured vs counted");
            });
            foreach (var (nic, packets) in new[] { ("lan", host.Sent), ("lo", host.SentOnLoopback) })
            {
                AssertRates($"{host.Name} on {nic}", packets);
            }
        }
    }

    private static void AssertRates(string who, IReadOnlyList<CapturedPacket> sent)
    {
        var queries = sent.Where(p => !p.IsResponse).ToList();
        var responses = sent.Where(p => p.IsResponse && !p.IsGoodbye).ToList();
        Assert.Multiple(() =>
        {
            // RFC 6762 §5.2: the first two queries at least 1 s apart; libp2p then asks every 10 s (js's interval).
            Assert.That(queries, Has.Count.LessThanOrEqualTo(2 + DurationSeconds / 10 + 1), $"{who}: queries in {DurationSeconds} s");
            Assert.That(Gaps(queries), Has.All.GreaterThanOrEqualTo(TimeSpan.FromSeconds(0.95)), $"{who}: queries closer than 1 s");
            // RFC 6762 §6: a record is multicast at most once per second per interface.
            Assert.That(Gaps(responses), Has.All.GreaterThanOrEqualTo(TimeSpan.FromSeconds(0.95)), $"{who}: responses closer than 1 s");
            Assert.That(responses, Has.Count.LessThanOrEqualTo(DurationSeconds + 1), $"{who}: responses in {DurationSeconds} s");
            Assert.That(sent.Count(p => p.IsGoodbye), Is.LessThanOrEqualTo(1), $"{who}: goodbyes");
        });
    }

    private static IEnumerable<TimeSpan> Gaps(IReadOnlyList<CapturedPacket> packets) =>
        packets.Zip(packets.Skip(1), (a, b) => b.At - a.At);

    private static string Tail(string text) => text.Length <= 3000 ? text : text[^3000..];

    [GeneratedRegex(@"mDNS stopped: sent (\d+) queries and (\d+) responses")]
    private static partial Regex StoppedLine();

    internal sealed record HostReport(string Name, string PeerId, IPAddress Address, long MaxResidentKiB, double? IdleCpuShare,
        TimeSpan? StopLateness, int? ExitCode, long? Queries, long? Responses, IReadOnlyList<CapturedPacket> Sent,
        IReadOnlyList<CapturedPacket> SentOnLoopback, string Errors);

    internal sealed record SoakReport(string Scenario, IReadOnlyList<HostReport> Hosts, IReadOnlyList<CapturedPacket> Captured, int Malformed)
    {
        public string Summary()
        {
            var text = new StringBuilder($"mDNS soak '{Scenario}' ({DurationSeconds} s):");
            foreach (var h in Hosts)
            {
                text.Append(CultureInfo.InvariantCulture, $" [{h.Name}: max RSS {h.MaxResidentKiB / 1024.0:0.0} MiB, idle CPU {h.IdleCpuShare * 100:0.00} %, ");
                text.Append(CultureInfo.InvariantCulture, $"stopped {h.StopLateness?.TotalSeconds:0.00} s after --duration, ");
                var all = h.Sent.Concat(h.SentOnLoopback).ToList();
                text.Append(CultureInfo.InvariantCulture, $"sent {all.Count(p => !p.IsResponse)} queries / {all.Count(p => p.IsResponse)} responses captured, ");
                text.Append(CultureInfo.InvariantCulture, $"{h.Queries} / {h.Responses} counted]");
            }
            return text.ToString();
        }
    }
}
