using System.Text.Json;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// <c>kontinuum content serve</c> as a process: the sending device serves its own content, so when every mailbox node
/// lost a chunk, a <c>content get</c> in another process fetches that chunk from it; SIGTERM stops it cleanly.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class ContentServeProcessTests
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(90);
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-cli-content-serve-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task A_chunk_every_mailbox_node_lost_is_fetched_from_the_content_serve_process(CancellationToken ct)
    {
        await using var cluster = await CertifiedMailboxNodes.StartAsync("contentnet", _dir, ct);
        var a = Path.Combine(_dir, "device-a");
        var b = Path.Combine(_dir, "device-b");
        var created = (await ContentCliTests.RunJsonAsync(GroupCommands.Create(), ["group", "create", "--network", cluster.Genesis, "--mailboxes", cluster.Slots, "--dir", a,
            "--bootstrap", cluster.Bootstrap, "--json"], ct))[0];
        await ContentCliTests.RunJsonAsync(GroupCommands.Create(), ["group", "join", created.GetProperty("invite").GetString()!, "--dir", b, "--network", cluster.Genesis,
            "--bootstrap", cluster.Bootstrap, "--json"], ct);

        using var serve = NodeProcess.Start("serve", new Dictionary<string, string>(), "content", "serve", "--group", a, "--listen", "/ip4/127.0.0.1/tcp/0",
            "--rescan", "00:00:00.2", "--json");
        var senderPeer = (await serve.FirstLineAsync(ProcessTimeout, ct)).GetProperty("peerId").GetString()!;
        var offered = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        serve.LineReceived += line =>
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.TryGetProperty("offered", out _)) offered.TrySetResult(document.RootElement.Clone());
        };

        var file = Path.Combine(_dir, "video.bin");
        var bytes = new byte[(2 << 20) + 999];
        new Random(23).NextBytes(bytes);
        await File.WriteAllBytesAsync(file, bytes, ct);
        var put = (await ContentCliTests.RunJsonAsync(ContentCommands.Create(), ["content", "put", file, "--group", a, "--json"], ct))[0];
        Assert.That(put.GetProperty("sender").GetString(), Is.EqualTo(senderPeer), "the put names the serving node in the reference");
        var contentId = put.GetProperty("contentId").GetString()!;
        var offer = await offered.Task.WaitAsync(ProcessTimeout, ct);
        Assert.That(offer.GetProperty("offered").GetBoolean(), Is.True, offer.ToString());
        Assert.That(offer.GetProperty("contentId").GetString(), Is.EqualTo(contentId));

        // Every mailbox node's copy of chunk 3 is damaged on disk (re-hashed on read, dropped and reported missing).
        var damaged = 0;
        foreach (var node in cluster.Nodes.Where(n => n.ContentServer is not null))
        {
            foreach (var chunk in Directory.GetFiles(node.ContentServer!.Store.Options.Directory, "3.c", SearchOption.AllDirectories))
            {
                var stored = await File.ReadAllBytesAsync(chunk, ct);
                stored[7] ^= 1;
                await File.WriteAllBytesAsync(chunk, stored, ct);
                damaged++;
            }
        }
        Assert.That(damaged, Is.EqualTo(3), "each of the 3 mailbox nodes held chunk 3");

        var copy = Path.Combine(_dir, "copy.bin");
        using (var get = NodeProcess.Start("get", new Dictionary<string, string>(), "content", "get", put.GetProperty("reference").GetString()!, "--group", b,
                   "--out", copy, "--json"))
        {
            Assert.That(await get.WaitForExitAsync(ProcessTimeout, ct), Is.Zero, get.Errors);
            using var document = JsonDocument.Parse(get.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
            var fetchedFrom = document.RootElement.GetProperty("fetchedFrom");
            Assert.That(fetchedFrom.GetProperty(senderPeer).GetInt32(), Is.EqualTo(1), "only the lost chunk came from the sender: " + fetchedFrom);
            // The first pass verified the 8 chunks the nodes had into copy.bin.part; the pass with the sender kept them.
            Assert.That(document.RootElement.GetProperty("chunksFetched").GetInt32(), Is.EqualTo(1));
            Assert.That(document.RootElement.GetProperty("chunksResumed").GetInt32(), Is.EqualTo(8));
        }
        Assert.That(await File.ReadAllBytesAsync(copy, ct), Is.EqualTo(bytes));

        var (code, _) = await serve.TerminateAsync(ProcessTimeout, ct);
        Assert.That(code, Is.Zero, serve.Errors);
        using var last = JsonDocument.Parse(serve.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        Assert.That(last.RootElement.GetProperty("stopped").GetBoolean(), Is.True);
        Assert.That(last.RootElement.GetProperty("chunksServed").GetInt64(), Is.EqualTo(1));
    }

    [Test]
    public void A_wildcard_listen_address_is_saved_as_the_interfaces_addresses_and_kept_for_the_next_run()
    {
        var group = Path.Combine(_dir, "g");
        Directory.CreateDirectory(Path.Combine(group, "content-sender"));
        using var identity = Core.Identity.Ed25519Identity.Generate();
        var bound = Core.Addressing.Multiaddr.Parse("/ip4/0.0.0.0/tcp/4711");
        ContentSenderFiles.SaveEndpoint(group, identity.PeerId, [bound]);

        var (peer, advertised, listen) = ContentSenderFiles.LoadEndpoint(group)!.Value;
        Assert.That(peer, Is.EqualTo(identity.PeerId));
        Assert.That(listen, Is.EqualTo(new[] { bound }), "the next run listens as this one did");
        Assert.That(advertised.Select(a => a.ToString()), Has.Member("/ip4/127.0.0.1/tcp/4711"));
        Assert.That(advertised.Select(a => a.ToString()), Has.None.StartsWith("/ip4/0.0.0.0"), "references never name a wildcard");
        var loopback = advertised.Select(a => a.ToString().StartsWith("/ip4/127.", StringComparison.Ordinal)).ToList();
        Assert.That(loopback, Is.Ordered, "loopback comes after every other address");
    }
}
