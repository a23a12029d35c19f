using System.Diagnostics;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Contents;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Mailbox.Content;

namespace KontinuumP2P.Archive.Tests.Pushing;

/// <summary>The pusher in a child process over a real mailbox store, SIGKILLed at random points.</summary>
[NonParallelizable]
public sealed class PusherCrashTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-pusher-crash-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    [Category("Slow")]
    public async Task A_pusher_killed_twenty_times_archives_every_blob_and_every_content_exactly_once()
    {
        var seed = Environment.TickCount;
        TestContext.Out.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var storePath = Path.Combine(_dir, "store.db");
        var statePath = Path.Combine(_dir, "archive-state.db");
        var sinkPath = Path.Combine(_dir, "sink");
        var contentPath = Path.Combine(_dir, "content");
        var contents = ContentStore.Open(new ContentStoreOptions { Directory = contentPath });
        var made = new List<TestContents.Made>();
        for (var i = 0; i < 4; i++) made.Add(await TestContents.AddAsync(contents, random, random.Next(20_000, 90_000), 16 << 10, $"c{i}"));
        var boxes = ReplicaStore.MakeBoxes(random, 2);
        await using (var store = await ReplicaStore.OpenAsync(storePath)) await ReplicaStore.PushAsync(store, boxes, random, 40, 1, 6000);

        var killed = 0;
        for (var run = 0; run < 20; run++)
        {
            var (exited, log) = await RunAsync(killAfterLines: random.Next(0, 4), killDelayMs: random.Next(0, 30));
            if (!exited) killed++;
            TestContext.Out.WriteLine($"run {run}: {log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length - 1} packs and contents, {(exited ? "finished" : "killed")}");
            // A few more blobs arrive between runs (about one tail pack's worth), so runs reach the tail, where a pack
            // interrupted after its upload must be rebuilt from its planned range and not swallow the newcomers.
            await using var store = await ReplicaStore.OpenAsync(storePath);
            await ReplicaStore.PushAsync(store, boxes, random, 6, 1, 6000);
            // And a content now and then (the store is reopened: the child wrote nothing to it).
            if (run % 4 == 0)
            {
                contents = ContentStore.Open(new ContentStoreOptions { Directory = contentPath });
                made.Add(await TestContents.AddAsync(contents, random, random.Next(20_000, 90_000), 16 << 10, $"r{run}"));
            }
        }
        var (finished, output) = await RunAsync(killAfterLines: null, killDelayMs: 0);
        Assert.That(finished, Is.True);
        Assert.That(output, Does.Contain("done"));
        TestContext.Out.WriteLine($"{killed} of 20 runs killed before finishing");
        Assert.That(killed, Is.GreaterThanOrEqualTo(10), "most runs must die mid-work, or the test shows nothing");

        Dictionary<string, List<ArchiveBlob>> stored;
        await using (var store = await ReplicaStore.OpenAsync(storePath)) stored = await ReplicaStore.ReadAllAsync(store);
        Assert.That(stored.Values.Sum(v => v.Count), Is.EqualTo(2 * (40 + 20 * 6)));
        await using var sink = new DirectorySink(sinkPath);
        ArchiveCheck.AssertExactlyOnce(stored, await ArchiveCheck.RestoreAllAsync([sink], boxes));
        await ArchiveCheck.AssertNoOrphanOrDuplicatePacksAsync(sink, boxes);
        using var state = new PusherStateStore(statePath);
        // Every content exactly once: one object per content id, each verifying against its id, each recorded once.
        var archived = new List<ArchiveObjectId>();
        await foreach (var id in sink.ListAsync(ArchiveObjectKind.Content, CancellationToken.None)) archived.Add(id);
        Assert.That(archived.Select(a => Convert.ToHexStringLower(a.Digest)), Is.EquivalentTo(made.Select(m => m.Manifest.Id.ToHex())));
        foreach (var id in archived) Assert.That(ContentObject.IsValid(File.ReadAllBytes(sink.PathOf(id)), id), Is.True, id.ToString());
        Assert.That(state.Contents().Select(c => Convert.ToHexStringLower(c.ContentId)), Is.EquivalentTo(made.Select(m => m.Manifest.Id.ToHex())));
        foreach (var box in boxes)
        {
            var s = state.Get(box.MailboxId)!;
            Assert.That(s.ArchivedUpTo, Is.EqualTo(stored[Convert.ToHexStringLower(box.MailboxId)][^1].Cursor));
            Assert.That(s.PlannedUpTo, Is.Null);
        }

        // Returns whether the child exited by itself, and its output.
        async Task<(bool Exited, string Output)> RunAsync(int? killAfterLines, int killDelayMs)
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "KontinuumP2P.Archive.CrashHost.dll");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { dll, storePath, statePath, "dir:" + sinkPath, "32768", contentPath }) start.ArgumentList.Add(a);
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var output = new System.Text.StringBuilder();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var lines = 0;
            try
            {
                while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
                {
                    output.AppendLine(line);
                    if (killAfterLines is { } k && ++lines > k)
                    {
                        if (killDelayMs > 0) await Task.Delay(killDelayMs, timeout.Token);
                        process.Kill(); // SIGKILL
                        break;
                    }
                }
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("the pusher process did not finish within 60 s: " + output);
            }
            var exitedByItself = output.ToString().Contains("done", StringComparison.Ordinal);
            if (process.ExitCode is not (0 or 137) && !(killAfterLines is not null && !exitedByItself))
                Assert.Fail($"pusher exited with {process.ExitCode}: {await stderr}");
            return (exitedByItself, output.ToString());
        }
    }
}
