using System.Text.Json;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Cli.Commands;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Records;

namespace KontinuumP2P.Cli.Tests;

/// <summary><c>crl publish</c>, <c>cert publish</c> and <c>dht get</c> on a Kontinuum network, against a real devnet on loopback TCP.</summary>
[TestFixture]
[CancelAfter(120_000)]
public sealed class PublishCommandsTests
{
    private string _directory = "";

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("kp-cli-publish-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task CrlPublish_RevokesANodeOnEveryMember(CancellationToken ct)
    {
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 4, Directory = Path.Combine(_directory, "devnet") }, ct);
        var revoked = devnet.Nodes[3];
        var firstCrlFile = Path.Combine(_directory, "crl-1.bin");
        await File.WriteAllBytesAsync(firstCrlFile, devnet.Nodes[0].CurrentCrl!.Encode(), ct);
        var crlFile = Path.Combine(_directory, "crl-2.bin");
        await File.WriteAllBytesAsync(crlFile, devnet.Authority.IssueCrl([revoked.PeerId], TimeSpan.FromDays(1)).Encode(), ct);

        var published = await RunJsonAsync(["crl", "publish", crlFile, "--network", Genesis(devnet), "--bootstrap", Bootstrap(devnet), "--json"], ct);
        Assert.That(published.GetProperty("crlNumber").GetUInt64(), Is.EqualTo(2UL));
        Assert.That(published.GetProperty("stored").GetInt32(), Is.GreaterThanOrEqualTo(1));

        // What each member's refresh loop would do next: fetch, accept, re-judge, evict.
        foreach (var member in devnet.Nodes.Take(3)) await member.RefreshCrlAsync(ct);
        await WaitUntilAsync(() => devnet.Nodes.Take(3).All(n => n.Dht.GetRoutingTable().All(e => e.PeerId != revoked.PeerId)), ct);
        Assert.That(devnet.Nodes.Take(3).Select(n => n.CurrentCrl?.Body.CrlNumber), Is.All.EqualTo(2UL));

        // Publishing the same CRL again is harmless (it reaches whoever missed it); the older CRL 1 is a rollback.
        var again = await RunJsonAsync(["crl", "publish", crlFile, "--network", Genesis(devnet), "--bootstrap", Bootstrap(devnet), "--json"], ct);
        Assert.That(again.GetProperty("crlNumber").GetUInt64(), Is.EqualTo(2UL));
        var rollback = await RunAsync(["crl", "publish", firstCrlFile, "--network", Genesis(devnet), "--bootstrap", Bootstrap(devnet)], ct);
        Assert.That(rollback.Code, Is.EqualTo(ExitCodes.InvalidInput), rollback.Error);
        Assert.That(rollback.Error, Does.Contain("CRL 1 refused"));
    }

    [Test]
    public async Task CertPublish_PutsASignedRecordThatMembersResolve(CancellationToken ct)
    {
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 3, Directory = Path.Combine(_directory, "devnet") }, ct);
        using var newcomer = Ed25519Identity.Generate();
        var certFile = Path.Combine(_directory, "node.cert");
        var keyFile = Path.Combine(_directory, "node.key");
        await File.WriteAllBytesAsync(certFile, devnet.Authority.IssueCertificate(newcomer, TimeSpan.FromDays(1)).Encode(), ct);
        KeyFile.WriteSecret(keyFile, KeyFile.EncodePlain(newcomer, KeyFileKind.Node));

        var published = await RunJsonAsync(["cert", "publish", certFile, "--key", keyFile, "--addr", "/ip4/127.0.0.1/tcp/4999",
            "--network", Genesis(devnet), "--bootstrap", Bootstrap(devnet), "--json"], ct);
        Assert.That(published.GetProperty("nodeId").GetString(), Is.EqualTo(newcomer.PeerId.ToString()));

        var record = await devnet.Nodes[2].ResolveNodeAsync(newcomer.PeerId, ct);
        Assert.That(record, Is.Not.Null);
        Assert.That(record!.Addresses, Is.EqualTo(new[] { Multiaddr.Parse("/ip4/127.0.0.1/tcp/4999") }));

        // Any client of the network reads it back with `dht get`, through the network's validators.
        var got = await RunJsonAsync(["dht", "get", $"/node/{newcomer.PeerId}", "--network", Genesis(devnet), "--bootstrap", Bootstrap(devnet), "--json"], ct);
        var fetched = NodeRecord.Decode(Convert.FromBase64String(got.GetProperty("value").GetString()!));
        Assert.That(fetched.PeerId, Is.EqualTo(newcomer.PeerId));
        Assert.That(fetched.HasValidSignature(), Is.True);
    }

    [Test]
    public async Task DhtServe_OnAKontinuumNetwork_PointsToNodeRun(CancellationToken ct)
    {
        using var authority = new DevnetAuthority("t", 1, 1, TimeProvider.System);
        var genesis = Path.Combine(_directory, "genesis.json");
        await File.WriteAllTextAsync(genesis, Node.Networks.GenesisFile.Write(authority.Network), ct);
        var result = await RunAsync(["dht", "serve", "--network", genesis, "--duration", "1"], ct);
        Assert.That(result.Code, Is.EqualTo(ExitCodes.InvalidInput), result.Error);
        Assert.That(result.Error, Does.Contain("node run"));
    }

    [Test]
    public async Task CertPublish_RefusesAKeyThatIsNotTheCertificates(CancellationToken ct)
    {
        using var authority = new DevnetAuthority("t", 1, 1, TimeProvider.System);
        using var certified = Ed25519Identity.Generate();
        using var other = Ed25519Identity.Generate();
        var certFile = Path.Combine(_directory, "node.cert");
        var keyFile = Path.Combine(_directory, "other.key");
        await File.WriteAllBytesAsync(certFile, authority.IssueCertificate(certified, TimeSpan.FromDays(1)).Encode(), ct);
        KeyFile.WriteSecret(keyFile, KeyFile.EncodePlain(other, KeyFileKind.Node));
        var result = await RunAsync(["cert", "publish", certFile, "--key", keyFile, "--network", "open"], ct);
        Assert.That(result.Code, Is.EqualTo(ExitCodes.InvalidInput), result.Error);
        Assert.That(result.Error, Does.Contain("--key"));
    }

    [TestCase("open", "--network: 'open' has no Tier 0 anchors")]
    [TestCase("/nonexistent/genesis.json", "--network")]
    public async Task CrlPublish_NamesTheBadNetwork(string network, string named, CancellationToken ct)
    {
        using var authority = new DevnetAuthority("t", 1, 1, TimeProvider.System);
        var crlFile = Path.Combine(_directory, "crl.bin");
        await File.WriteAllBytesAsync(crlFile, authority.IssueCrl([], TimeSpan.FromDays(1)).Encode(), ct);
        var result = await RunAsync(["crl", "publish", crlFile, "--network", network, "--bootstrap",
            "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"], ct);
        Assert.That(result.Code, Is.EqualTo(ExitCodes.InvalidInput), result.Error);
        Assert.That(result.Error, Does.Contain(named));
    }

    [Test]
    public async Task CrlPublish_FailsClearlyWhenNoBootstrapPeerAnswers(CancellationToken ct)
    {
        using var authority = new DevnetAuthority("t", 1, 1, TimeProvider.System);
        var genesis = Path.Combine(_directory, "genesis.json");
        await File.WriteAllTextAsync(genesis, Node.Networks.GenesisFile.Write(authority.Network), ct);
        var crlFile = Path.Combine(_directory, "crl.bin");
        await File.WriteAllBytesAsync(crlFile, authority.IssueCrl([], TimeSpan.FromDays(1)).Encode(), ct);
        // Port 1 on loopback refuses at once: nothing listens there.
        var result = await RunAsync(["crl", "publish", crlFile, "--network", genesis, "--bootstrap",
            "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"], ct);
        Assert.That(result.Code, Is.EqualTo(1), result.Error);
        Assert.That(result.Error, Does.Contain("no bootstrap peer"));
    }

    private static string Genesis(DevnetRunner devnet) => Path.Combine(devnet.Directory, "genesis.json");

    private static string Bootstrap(DevnetRunner devnet) => devnet.Nodes[0].ListenAddresses[0].WithPeerId(devnet.Nodes[0].PeerId).ToString();

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken ct)
    {
        for (var i = 0; i < 100 && !condition(); i++) await Task.Delay(50, ct);
        Assert.That(condition(), Is.True, "condition not met within 5 s");
    }

    private static async Task<JsonElement> RunJsonAsync(string[] args, CancellationToken ct)
    {
        var result = await RunAsync(args, ct);
        Assert.That(result.Code, Is.Zero, $"{string.Join(' ', args)}: {result.Error}");
        using var document = JsonDocument.Parse(result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        return document.RootElement.Clone();
    }

    private static async Task<CliResult> RunAsync(string[] args, CancellationToken ct)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var command = args[0] switch
        {
            "crl" => CrlCommands.Create(),
            "cert" => CertCommands.Create(),
            _ => DhtCommands.Create(),
        };
        var code = await LineWriter.InvokeAsync(command, args, output, error, ct);
        return new CliResult(code, output.Text, error.Text);
    }
}
