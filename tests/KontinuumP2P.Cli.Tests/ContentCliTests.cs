using System.Text.Json;
using KontinuumP2P.Cli.Commands;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Cli.Tests;

/// <summary><c>kontinuum content put|pull|get</c> between two devices of a group through three certified mailbox nodes.</summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class ContentCliTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-cli-content-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task A_large_file_sent_by_one_device_is_pulled_and_verified_by_the_other(CancellationToken ct)
    {
        using var authority = new DevnetAuthority("contentnet", 1, 1, TimeProvider.System);
        var keys = Enumerable.Range(0, 3).Select(_ => Ed25519Identity.Generate()).ToList();
        var nodes = new List<KontinuumNode>();
        try
        {
            foreach (var (key, i) in keys.Select((k, i) => (k, i)))
            {
                nodes.Add(await KontinuumNode.StartAsync(new KontinuumNodeOptions
                {
                    Identity = key,
                    Network = authority.Network,
                    Certificate = authority.IssueCertificate(key, TimeSpan.FromDays(1), ["dht", "mailbox"]),
                    ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
                    ExtraBootstrapPeers = nodes.Count == 0 ? [] : [nodes[0].ListenAddresses[0].WithPeerId(nodes[0].PeerId)],
                    Mailbox = new MailboxServerOptions { Store = new MailboxStoreOptions { DatabasePath = Path.Combine(_dir, $"node-{i}", "mbx.db") } },
                }, ct));
            }
            foreach (var node in nodes) await node.PublishNodeRecordAsync(ct);
            var genesis = Path.Combine(_dir, "genesis.json");
            await File.WriteAllTextAsync(genesis, GenesisFile.Write(authority.Network), ct);
            var bootstrap = nodes[1].ListenAddresses[0].WithPeerId(nodes[1].PeerId).ToString();
            var slots = string.Join(',', nodes.Select(n => n.PeerId.ToString()));
            var a = Path.Combine(_dir, "device-a");
            var b = Path.Combine(_dir, "device-b");
            var created = (await RunJsonAsync(GroupCommands.Create(), ["group", "create", "--network", genesis, "--mailboxes", slots, "--dir", a, "--bootstrap", bootstrap, "--json"], ct))[0];
            await RunJsonAsync(GroupCommands.Create(), ["group", "join", created.GetProperty("invite").GetString()!, "--dir", b, "--network", genesis, "--bootstrap", bootstrap, "--json"], ct);

            var file = Path.Combine(_dir, "album.bin");
            var bytes = new byte[(3 << 20) + 12345];
            new Random(17).NextBytes(bytes);
            await File.WriteAllBytesAsync(file, bytes, ct);
            var put = (await RunJsonAsync(ContentCommands.Create(), ["content", "put", file, "--group", a, "--json"], ct))[0];
            Assert.That(put.GetProperty("storedAt").GetArrayLength(), Is.EqualTo(3));
            Assert.That(put.GetProperty("bytes").GetInt64(), Is.EqualTo(bytes.Length));
            var contentId = put.GetProperty("contentId").GetString()!;
            Assert.That(nodes.Select(n => n.ContentServer!.Store.Count), Is.All.EqualTo(1));

            var inbox = Path.Combine(_dir, "inbox");
            var pulled = (await RunJsonAsync(ContentCommands.Create(), ["content", "pull", "--group", b, "--out", inbox, "--json"], ct))[0];
            Assert.That(pulled.GetProperty("contentId").GetString(), Is.EqualTo(contentId));
            Assert.That(pulled.GetProperty("chunksFetched").GetInt32(), Is.EqualTo(13));
            Assert.That(await File.ReadAllBytesAsync(pulled.GetProperty("path").GetString()!, ct), Is.EqualTo(bytes));
            Assert.That(Path.GetFileName(pulled.GetProperty("path").GetString()), Does.EndWith("-album.bin"));

            var copy = Path.Combine(_dir, "copy.bin");
            var got = (await RunJsonAsync(ContentCommands.Create(), ["content", "get", put.GetProperty("reference").GetString()!, "--group", b, "--out", copy, "--json"], ct))[0];
            Assert.That(got.GetProperty("contentId").GetString(), Is.EqualTo(contentId));
            Assert.That(await File.ReadAllBytesAsync(copy, ct), Is.EqualTo(bytes));
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
            foreach (var key in keys) key.Dispose();
        }
    }

    [Test]
    public async Task A_bad_reference_is_named_with_exit_code_two(CancellationToken ct)
    {
        var error = new LineWriter();
        var code = await LineWriter.InvokeAsync(ContentCommands.Create(), ["content", "get", "not-a-reference", "--group", _dir, "--out", Path.Combine(_dir, "x")],
            new LineWriter(), error, ct);
        Assert.That(code, Is.EqualTo(2), error.Text);
        Assert.That(error.Text, Does.Contain("REFERENCE"));
    }

    private static async Task<List<JsonElement>> RunJsonAsync(System.CommandLine.Command command, string[] args, CancellationToken ct)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var code = await LineWriter.InvokeAsync(command, args, output, error, ct);
        Assert.That(code, Is.Zero, $"{string.Join(' ', args)}: {error.Text}");
        return [.. output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        })];
    }
}
