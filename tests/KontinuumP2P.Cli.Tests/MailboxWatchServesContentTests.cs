using System.Text.Json;
using KontinuumP2P.Cli.Commands;
using KontinuumP2P.Cli.Output;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// <c>kontinuum mailbox watch</c> as a process serves the device's own contents while it watches (once serving is set
/// up in the group directory), as <c>content serve</c> does: a chunk every mailbox node lost is fetched from it by a
/// <c>content get</c> in another process. A second server of the same directory is refused clearly while it runs.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class MailboxWatchServesContentTests
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(90);
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-cli-watch-serve-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task A_watching_device_serves_a_chunk_every_mailbox_node_lost_and_a_second_server_is_refused(CancellationToken ct)
    {
        await using var cluster = await CertifiedMailboxNodes.StartAsync("watchnet", _dir, ct);
        var a = Path.Combine(_dir, "device-a");
        var b = Path.Combine(_dir, "device-b");
        var created = (await ContentCliTests.RunJsonAsync(GroupCommands.Create(), ["group", "create", "--network", cluster.Genesis, "--mailboxes", cluster.Slots, "--dir", a,
            "--bootstrap", cluster.Bootstrap, "--json"], ct))[0];
        await ContentCliTests.RunJsonAsync(GroupCommands.Create(), ["group", "join", created.GetProperty("invite").GetString()!, "--dir", b, "--network", cluster.Genesis,
            "--bootstrap", cluster.Bootstrap, "--json"], ct);
        // Serving set up earlier (as a `content serve --listen /ip4/127.0.0.1/tcp/0` run leaves it): the watch serves by default.
        using (var earlier = ContentSenderFiles.LoadOrCreateIdentity(a))
            ContentSenderFiles.SaveEndpoint(a, earlier.PeerId, [Core.Addressing.Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")]);

        using var watch = NodeProcess.Start("watch", new Dictionary<string, string>(), "mailbox", "watch", "--group", a, "--rescan", "00:00:00.2", "--json");
        var offered = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        watch.LineReceived += line =>
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.TryGetProperty("offered", out _)) offered.TrySetResult(document.RootElement.Clone());
        };
        var announce = await watch.FirstLineAsync(ProcessTimeout, ct);
        Assert.That(announce.GetProperty("servingContent").GetBoolean(), Is.True, announce.ToString());
        var senderPeer = announce.GetProperty("peerId").GetString()!;

        // While it serves, neither `content serve` nor a watch that insists on serving may serve the same directory.
        var output = new LineWriter();
        var error = new LineWriter();
        Assert.That(await LineWriter.InvokeAsync(ContentCommands.Create(), ["content", "serve", "--group", a, "--json"], output, error, ct), Is.EqualTo(ExitCodes.InvalidInput));
        Assert.That(error.Text, Does.Contain("already serves this device's contents"));
        error = new LineWriter();
        Assert.That(await LineWriter.InvokeAsync(MailboxCommands.Create(), ["mailbox", "watch", "--group", a, "--serve-content", "true", "--duration", "1", "--json"],
            output, error, ct), Is.EqualTo(ExitCodes.InvalidInput));
        Assert.That(error.Text, Does.Contain("--serve-content").And.Contain("already serves"));

        var file = Path.Combine(_dir, "photo.bin");
        var bytes = new byte[(2 << 20) + 4321];
        new Random(29).NextBytes(bytes);
        await File.WriteAllBytesAsync(file, bytes, ct);
        var put = (await ContentCliTests.RunJsonAsync(ContentCommands.Create(), ["content", "put", file, "--group", a, "--json"], ct))[0];
        Assert.That(put.GetProperty("sender").GetString(), Is.EqualTo(senderPeer), "the put names the watching device in the reference");
        var offer = await offered.Task.WaitAsync(ProcessTimeout, ct);
        Assert.That(offer.GetProperty("offered").GetBoolean(), Is.True, offer.ToString());
        Assert.That(offer.GetProperty("contentId").GetString(), Is.EqualTo(put.GetProperty("contentId").GetString()));

        // Every mailbox node's copy of chunk 3 is damaged on disk: each node serves it as stored, and the receiver's check refuses it.
        var damaged = 0;
        foreach (var node in cluster.Nodes.Where(n => n.ContentServer is not null))
        {
            foreach (var chunk in Directory.GetFiles(node.ContentServer!.Store.Options.Directory, "3.c", SearchOption.AllDirectories))
            {
                var stored = await File.ReadAllBytesAsync(chunk, ct);
                stored[11] ^= 1;
                await File.WriteAllBytesAsync(chunk, stored, ct);
                damaged++;
            }
        }
        Assert.That(damaged, Is.EqualTo(3));

        var copy = Path.Combine(_dir, "copy.bin");
        using (var get = NodeProcess.Start("get", new Dictionary<string, string>(), "content", "get", put.GetProperty("reference").GetString()!, "--group", b,
                   "--out", copy, "--json"))
        {
            Assert.That(await get.WaitForExitAsync(ProcessTimeout, ct), Is.Zero, get.Errors);
            using var document = JsonDocument.Parse(get.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
            var fetchedFrom = document.RootElement.GetProperty("fetchedFrom");
            Assert.That(fetchedFrom.GetProperty(senderPeer).GetInt32(), Is.EqualTo(1), "only the lost chunk came from the watching device: " + fetchedFrom);
            Assert.That(document.RootElement.GetProperty("chunksFetched").GetInt32(), Is.EqualTo(1));
        }
        Assert.That(await File.ReadAllBytesAsync(copy, ct), Is.EqualTo(bytes));

        var (code, _) = await watch.TerminateAsync(ProcessTimeout, ct);
        Assert.That(code, Is.Zero, watch.Errors);
        var stopped = watch.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)
            .Single(l => l.TryGetProperty("stopped", out _));
        Assert.That(stopped.GetProperty("chunksServed").GetInt64(), Is.EqualTo(1));

        // Stopped, it holds the serving lock no more: another serving process may start.
        using var again = ContentSenderFiles.TryLockServing(a);
        Assert.That(again, Is.Not.Null);
    }
}
