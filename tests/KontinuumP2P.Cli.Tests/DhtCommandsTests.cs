using System.Text.Json;
using KontinuumP2P.Cli.Commands;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Cli.Tests;

[TestFixture]
[CancelAfter(120_000)]
public sealed class DhtCommandsTests
{
    [Test]
    public async Task Serve_then_put_get_and_find_peer_through_the_cli(CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var servers = new List<(Task<int> Run, string PeerId, string Address)>();
        for (var i = 0; i < 3; i++)
        {
            var output = new LineWriter();
            string[] bootstrap = servers.Count == 0 ? [] : ["--bootstrap", servers[0].Address];
            var run = RunAsync(["dht", "serve", "--json", "--network", "open", "--duration", "90", .. bootstrap], output, new LineWriter(), stop.Token);
            using var announced = JsonDocument.Parse(await output.FirstLine.WaitAsync(TimeSpan.FromSeconds(20), ct));
            servers.Add((run, announced.RootElement.GetProperty("peerId").GetString()!,
                announced.RootElement.GetProperty("listenAddrs")[0].GetString()!));
        }

        using var subject = Ed25519Identity.Generate();
        var valueFile = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"pk-{Guid.NewGuid():N}.bin");
        await File.WriteAllBytesAsync(valueFile, subject.EncodedPublicKey, ct);
        try
        {
            var put = await RunJsonAsync(["dht", "put", $"/pk/{subject.PeerId}", "--value-file", valueFile, "--bootstrap", servers[0].Address,
                "--network", "open", "--json"], ct);
            Assert.That(put.GetProperty("stored").GetInt32(), Is.GreaterThanOrEqualTo(1));

            var get = await RunJsonAsync(["dht", "get", $"/pk/{subject.PeerId}", "--bootstrap", servers[2].Address, "--network", "open", "--json"], ct);
            Assert.That(get.GetProperty("value").GetString(), Is.EqualTo(Convert.ToBase64String(subject.EncodedPublicKey)));

            var found = await RunJsonAsync(["dht", "find-peer", servers[2].PeerId, "--bootstrap", servers[0].Address, "--network", "open", "--json"], ct);
            Assert.That(found.GetProperty("peerId").GetString(), Is.EqualTo(servers[2].PeerId));
            Assert.That(found.GetProperty("addrs").GetArrayLength(), Is.GreaterThan(0));

            // A /pk/ value that is not the key's own public key is refused before anything is sent.
            using var other = Ed25519Identity.Generate();
            await File.WriteAllBytesAsync(valueFile, other.EncodedPublicKey, ct);
            var error = new LineWriter();
            var code = await RunAsync(["dht", "put", $"/pk/{subject.PeerId}", "--value-file", valueFile, "--bootstrap", servers[0].Address,
                "--network", "open", "--json"], new LineWriter(), error, ct);
            Assert.That(code, Is.Not.Zero);
            Assert.That(error.Text, Is.Not.Empty);
        }
        finally
        {
            File.Delete(valueFile);
        }

        await stop.CancelAsync();
        foreach (var server in servers) Assert.That(await server.Run.WaitAsync(TimeSpan.FromSeconds(20), ct), Is.Zero);
    }

    [TestCase(new[] { "dht", "find-peer", "notapeer", "--bootstrap", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq" }, "notapeer")]
    [TestCase(new[] { "dht", "get", "/pk/x", "--bootstrap", "/ip4/127.0.0.1/tcp/1" }, "/p2p/")]
    [TestCase(new[] { "dht", "get", "/pk/x" }, "--bootstrap")]
    public async Task Bad_input_is_named_with_exit_code_two(string[] args, string named, CancellationToken ct)
    {
        var error = new LineWriter();
        var code = await RunAsync(args, new LineWriter(), error, ct);
        Assert.That(code, Is.EqualTo(2), error.Text);
        Assert.That(error.Text, Does.Contain(named));
    }

    private static async Task<JsonElement> RunJsonAsync(string[] args, CancellationToken ct)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var code = await RunAsync(args, output, error, ct);
        Assert.That(code, Is.Zero, $"{string.Join(' ', args)}: {error.Text}");
        using var document = JsonDocument.Parse(output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        return document.RootElement.Clone();
    }

    private static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken ct) =>
        LineWriter.InvokeAsync(DhtCommands.Create(), args, output, error, ct);
}
