using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Archive.Tests.Sinks;

namespace KontinuumP2P.Archive.Tests.Restore;

/// <summary>
/// Blobs pushed into a real replica mailbox store are archived to dir: and to s3 (a real s3rver); the store's files are
/// deleted; each sink alone gives every blob back bit-identical from the archive keys.
/// </summary>
[NonParallelizable]
public sealed class DisasterDrillTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-drill-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    [Category("Slow")]
    public async Task Every_blob_comes_back_from_each_sink_after_the_store_is_destroyed()
    {
        var random = new Random(2026);
        var boxes = ReplicaStore.MakeBoxes(random, 3);
        await using var s3 = await S3rverProcess.StartAsync("drill");
        var storePath = Path.Combine(_dir, "store.db");
        Dictionary<string, List<ArchiveBlob>> stored;
        await using (var dirSink = new DirectorySink(Path.Combine(_dir, "archive")))
        await using (var s3Sink = s3.OpenSink())
        {
            await using var store = await ReplicaStore.OpenAsync(storePath);
            using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
            using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store), [dirSink, s3Sink], state,
                new ArchivePusherOptions { TargetPackBytes = 256 * 1024 }, TimeProvider.System);
            // 2,001 blobs in three mailboxes, archived while they arrive.
            for (var wave = 0; wave < 3; wave++)
            {
                await ReplicaStore.PushAsync(store, boxes, random, 223, 16, 4096);
                await pusher.RunOnceAsync(flush: false, CancellationToken.None);
            }
            await pusher.RunOnceAsync(flush: true, CancellationToken.None);
            stored = await ReplicaStore.ReadAllAsync(store);
        }
        Assert.That(stored.Values.Sum(v => v.Count), Is.EqualTo(2007));
        foreach (var file in Directory.EnumerateFiles(_dir, "store.db*")) File.Delete(file);
        Assert.That(Directory.EnumerateFiles(_dir, "store.db*"), Is.Empty);

        await using (var fromDir = new DirectorySink(Path.Combine(_dir, "archive")))
            ArchiveCheck.AssertExactlyOnce(stored, await ArchiveCheck.RestoreAllAsync([fromDir], boxes));
        var env = new Dictionary<string, string?> { ["AWS_ACCESS_KEY_ID"] = S3rverProcess.AccessKey, ["AWS_SECRET_ACCESS_KEY"] = S3rverProcess.SecretKey };
        await using (var fromS3 = ArchiveSinks.Open(s3.SinkText, env.GetValueOrDefault))
        {
            ArchiveCheck.AssertExactlyOnce(stored, await ArchiveCheck.RestoreAllAsync([fromS3], boxes));
            await ArchiveCheck.AssertNoOrphanOrDuplicatePacksAsync(fromS3, boxes);
        }
    }
}
