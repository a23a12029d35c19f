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
        var (a, b) = await ContentServingScenario.CreateTwoDevicesAsync(cluster, _dir, ct);
        // Serving set up earlier (as a `content serve --listen /ip4/127.0.0.1/tcp/0` run leaves it): the watch serves by default.
        using (var earlier = ContentSenderFiles.LoadOrCreateIdentity(a))
            ContentSenderFiles.SaveEndpoint(a, earlier.PeerId, [Core.Addressing.Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")]);

        using var watch = NodeProcess.Start("watch", new Dictionary<string, string>(), "mailbox", "watch", "--group", a, "--rescan", "00:00:00.2", "--json");
        var offered = ContentServingScenario.FirstOfferAsync(watch);
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
        var offer = await offered.WaitAsync(ProcessTimeout, ct);
        Assert.That(offer.GetProperty("offered").GetBoolean(), Is.True, offer.ToString());
        Assert.That(offer.GetProperty("contentId").GetString(), Is.EqualTo(put.GetProperty("contentId").GetString()));

        // Every mailbox node's copy of chunk 3 is damaged on disk: each node serves it as stored, and the receiver's check refuses it.
        Assert.That(await ContentServingScenario.DamageChunkThreeEverywhereAsync(cluster, 11, ct), Is.EqualTo(3));

        var copy = Path.Combine(_dir, "copy.bin");
        var got = await ContentServingScenario.GetAsync(put.GetProperty("reference").GetString()!, b, copy, ProcessTimeout, ct);
        var fetchedFrom = got.GetProperty("fetchedFrom");
        Assert.That(fetchedFrom.GetProperty(senderPeer).GetInt32(), Is.EqualTo(1), "only the lost chunk came from the watching device: " + fetchedFrom);
        Assert.That(got.GetProperty("chunksFetched").GetInt32(), Is.EqualTo(1));
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
