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
        var (a, b) = await ContentServingScenario.CreateTwoDevicesAsync(cluster, _dir, ct);

        using var serve = NodeProcess.Start("serve", new Dictionary<string, string>(), "content", "serve", "--group", a, "--listen", "/ip4/127.0.0.1/tcp/0",
            "--rescan", "00:00:00.2", "--json");
        var senderPeer = (await serve.FirstLineAsync(ProcessTimeout, ct)).GetProperty("peerId").GetString()!;
        var offered = ContentServingScenario.FirstOfferAsync(serve);

        var file = Path.Combine(_dir, "video.bin");
        var bytes = new byte[(2 << 20) + 999];
        new Random(23).NextBytes(bytes);
        await File.WriteAllBytesAsync(file, bytes, ct);
        var put = (await ContentCliTests.RunJsonAsync(ContentCommands.Create(), ["content", "put", file, "--group", a, "--json"], ct))[0];
        Assert.That(put.GetProperty("sender").GetString(), Is.EqualTo(senderPeer), "the put names the serving node in the reference");
        var contentId = put.GetProperty("contentId").GetString()!;
        var offer = await offered.WaitAsync(ProcessTimeout, ct);
        Assert.That(offer.GetProperty("offered").GetBoolean(), Is.True, offer.ToString());
        Assert.That(offer.GetProperty("contentId").GetString(), Is.EqualTo(contentId));

        // Every mailbox node's copy of chunk 3 is damaged on disk after it was checked at store: each node serves it as
        // stored, and the receiver's check refuses it.
        Assert.That(await ContentServingScenario.DamageChunkThreeEverywhereAsync(cluster, 7, ct), Is.EqualTo(3), "each of the 3 mailbox nodes held chunk 3");

        var copy = Path.Combine(_dir, "copy.bin");
        var got = await ContentServingScenario.GetAsync(put.GetProperty("reference").GetString()!, b, copy, ProcessTimeout, ct);
        var fetchedFrom = got.GetProperty("fetchedFrom");
        Assert.That(fetchedFrom.GetProperty(senderPeer).GetInt32(), Is.EqualTo(1), "only the lost chunk came from the sender: " + fetchedFrom);
        // The first pass verified the 8 chunks the nodes had into copy.bin.part; the pass with the sender kept them.
        Assert.That(got.GetProperty("chunksFetched").GetInt32(), Is.EqualTo(1));
        Assert.That(got.GetProperty("chunksResumed").GetInt32(), Is.EqualTo(8));
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
