using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

[TestFixture]
[CancelAfter(60_000)]
public sealed class PeerCommandsTests
{
    [TestCase("open", true)]
    [TestCase("mainnet", false)]
    public async Task Listen_prints_its_addresses_and_ping_reports_identify_and_rtts(string network, bool echoExpected, CancellationToken ct)
    {
        var listenOut = new LineWriter();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var listening = RunAsync(["peer", "listen", "--json", "--network", network, "--duration", "20"], listenOut, new LineWriter(), stop.Token);
        var first = await listenOut.FirstLine.WaitAsync(TimeSpan.FromSeconds(20), ct);
        using var announced = JsonDocument.Parse(first);
        var peerId = announced.RootElement.GetProperty("peerId").GetString()!;
        var address = announced.RootElement.GetProperty("listenAddrs")[0].GetString()!;
        Assert.That(peerId, Does.StartWith("12D3KooW"));
        Assert.That(address, Does.Match(@"^/ip4/127\.0\.0\.1/tcp/[1-9][0-9]*/p2p/" + peerId + "$"));

        var pingOut = new LineWriter();
        var pingErr = new LineWriter();
        var code = await RunAsync(["peer", "ping", address, "--count", "4", "--json"], pingOut, pingErr, ct);
        Assert.That(code, Is.Zero, pingErr.Text);
        var lines = pingOut.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1));
        using var report = JsonDocument.Parse(lines[0]);
        var root = report.RootElement;
        Assert.That(root.GetProperty("peerId").GetString(), Is.EqualTo(peerId));
        Assert.That(root.GetProperty("agentVersion").GetString(), Does.StartWith("kontinuum/"));
        var protocols = root.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()).ToList();
        Assert.That(protocols, Does.Contain("/ipfs/ping/1.0.0").And.Contain("/ipfs/id/1.0.0"));
        Assert.That(protocols.Contains("/kontinuum/echo/1.0.0"), Is.EqualTo(echoExpected));
        var rtts = root.GetProperty("rttMs").EnumerateArray().Select(r => r.GetDouble()).ToList();
        Assert.That(rtts, Has.Count.EqualTo(4));
        Assert.That(rtts.Min(), Is.GreaterThan(0.0));
        Assert.That(listening.IsCompleted, Is.False);

        // Cancellation is how Ctrl+C arrives: the listener stops cleanly with exit code 0.
        await stop.CancelAsync();
        Assert.That(await listening.WaitAsync(TimeSpan.FromSeconds(10), ct), Is.Zero);
    }

    [TestCase(new[] { "peer", "ping", "/ip4/1.2.3/tcp/1" }, "/ip4/1.2.3/tcp/1")]
    [TestCase(new[] { "peer", "ping", "/ip4/127.0.0.1/udp/1" }, "/ip4/127.0.0.1/udp/1")]
    [TestCase(new[] { "peer", "ping", "/ip4/127.0.0.1/tcp/1", "--count", "0" }, "--count")]
    [TestCase(new[] { "peer", "listen", "--listen", "/ip4/127.0.0.1/tcp/notaport" }, "notaport")]
    [TestCase(new[] { "peer", "listen", "--network", "my-genesis.json" }, "my-genesis.json")]
    public async Task Bad_input_is_named_on_stderr_with_a_nonzero_exit(string[] args, string named, CancellationToken ct)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var code = await RunAsync(args, output, error, ct);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error.Text, Does.Contain(named));
        Assert.That(output.Text, Is.Empty);
    }

    [Test]
    public async Task Ping_to_a_closed_port_fails_cleanly(CancellationToken ct)
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var error = new LineWriter();
        var code = await RunAsync(["peer", "ping", $"/ip4/127.0.0.1/tcp/{port}", "--json"], new LineWriter(), error, ct);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.Text, Does.Contain($"/ip4/127.0.0.1/tcp/{port}"));
    }

    [Test]
    public async Task Listen_runs_as_a_process_and_answers_ping(CancellationToken ct)
    {
        var cli = typeof(PeerCommands).Assembly.Location;
        var start = new ProcessStartInfo("dotnet", [cli, "peer", "listen", "--json", "--network", "open", "--duration", "30"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        try
        {
            var first = await process.StandardOutput.ReadLineAsync(ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), ct);
            Assert.That(first, Is.Not.Null);
            using var announced = JsonDocument.Parse(first!);
            var address = announced.RootElement.GetProperty("listenAddrs")[0].GetString()!;
            var output = new LineWriter();
            var code = await RunAsync(["peer", "ping", address, "--count", "1", "--json"], output, new LineWriter(), ct);
            Assert.That(code, Is.Zero);
            using var report = JsonDocument.Parse(output.Text);
            Assert.That(report.RootElement.GetProperty("peerId").GetString(), Is.EqualTo(announced.RootElement.GetProperty("peerId").GetString()));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    private static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken ct) =>
        LineWriter.InvokeAsync(PeerCommands.Create(), args, output, error, ct);
}
