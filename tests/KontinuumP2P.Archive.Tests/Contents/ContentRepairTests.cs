using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Restore;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Mailbox.Content;

namespace KontinuumP2P.Archive.Tests.Contents;

/// <summary>The repairer rebuilds a content object the sink lost or corrupted from the replica's content store.</summary>
[CancelAfter(60_000)]
public sealed class ContentRepairTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-content-repair-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task A_corrupt_and_a_missing_content_object_are_found_by_verify_and_rebuilt(CancellationToken ct)
    {
        var random = new Random(23);
        await using var sink = new DirectorySink(Path.Combine(_dir, "archive"));
        await using var store = await ReplicaStore.OpenAsync(Path.Combine(_dir, "store.db"));
        var contents = ContentStore.Open(new ContentStoreOptions { Directory = Path.Combine(_dir, "content") });
        var made = new[]
        {
            await TestContents.AddAsync(contents, random, 200_000, 32 << 10, "a.bin"),
            await TestContents.AddAsync(contents, random, 70_000, 16 << 10, "b.bin"),
        };
        var source = new MailboxStoreArchiveSource(store, contents);
        using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
        using (var pusher = new ArchivePusher(source, [sink], state, new ArchivePusherOptions(), TimeProvider.System))
            await pusher.RunOnceAsync(flush: true, ct);
        var ids = made.Select(m => ArchiveObjectId.Content(m.Manifest.Id.Digest)).ToArray();
        var good = ids.Select(id => File.ReadAllBytes(sink.PathOf(id))).ToArray();

        // One object gets a flipped byte in its last chunk, the other is deleted.
        var flipped = (byte[])good[0].Clone();
        flipped[^10] ^= 0x40;
        File.WriteAllBytes(sink.PathOf(ids[0]), flipped);
        File.Delete(sink.PathOf(ids[1]));
        var report = await ArchiveVerifier.VerifyAsync(sink, 100, 0, null, ct);
        Assert.That(report.Corrupt, Is.EquivalentTo(new[] { ids[0] }), "the flipped byte fails its chunk hash");

        var repaired = await ArchiveRepairer.RepairAsync(sink, source, state, ids, ct);
        Assert.That(repaired, Is.EqualTo(2));
        for (var i = 0; i < ids.Length; i++) Assert.That(File.ReadAllBytes(sink.PathOf(ids[i])), Is.EqualTo(good[i]), $"{ids[i]} rebuilt bit-identical");
        Assert.That((await ArchiveVerifier.VerifyAsync(sink, 100, 1, null, ct)).Corrupt, Is.Empty);

        // A content the replica no longer holds whole cannot be rebuilt, and the repairer says so.
        Directory.Delete(Path.Combine(_dir, "content"), recursive: true);
        var gone = new MailboxStoreArchiveSource(store, ContentStore.Open(new ContentStoreOptions { Directory = Path.Combine(_dir, "content2") }));
        var refused = Assert.ThrowsAsync<InvalidOperationException>(async () => await ArchiveRepairer.RepairAsync(sink, gone, state, [ids[1]], ct))!;
        Assert.That(refused.Message, Does.Contain("no longer holds it whole"));
    }
}
