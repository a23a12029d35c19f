using KontinuumP2P.Archive.Contents;
using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Restore;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Archive.Tests.Contents;

/// <summary>Contents (large attachments) held on a replica are archived whole and come back with the blobs that reference them.</summary>
public sealed class ContentArchiveTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-content-archive-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task Referenced_contents_are_archived_once_and_restore_writes_the_attachments_verified()
    {
        var random = new Random(17);
        var groupDir = Path.Combine(_dir, "group");
        var slots = new[] { "mbx-eu-001" };
        var contentDir = Path.Combine(_dir, "content");
        await using var sink = new DirectorySink(Path.Combine(_dir, "archive"));
        var made = new List<TestContents.Made>();
        var referenceBlobs = new Dictionary<string, byte[]>();
        using (var group = GroupStore.Create(groupDir, GroupSecret.Generate(), "devnet", slots, 1))
        {
            await using var store = await ReplicaStore.OpenAsync(Path.Combine(_dir, "store.db"));
            var contents = ContentStore.Open(new ContentStoreOptions { Directory = contentDir });
            made.Add(await TestContents.AddAsync(contents, random, 300_000, 64 << 10, "photo.jpg"));
            made.Add(await TestContents.AddAsync(contents, random, 5_000, 4 << 10, "../../escape.txt"));
            // Half uploaded: not complete on this replica, so not archived (and its reference finds nothing).
            var partial = await TestContents.AddAsync(contents, random, 100_000, 16 << 10, "partial.bin", chunks: 3);
            var keys = group.Current.SlotKeys[slots[0]];
            var handle = (await store.OpenMailboxAsync(keys.MailboxId, keys.Capability, TestBlobs.Key(random)[..16], keys.ArchiveKey, CancellationToken.None)).Handle;
            foreach (var plain in made.Select(m => m.Reference.ToBlob()).Append(partial.Reference.ToBlob()).Append([1, 2, 3]))
            {
                var sealedBlob = BlobCipher.Seal(group.Current.Keys.BlobKey, plain);
                referenceBlobs[sealedBlob.Id.ToString()] = plain;
                await store.PushAsync(handle, sealedBlob.Id.Digest.ToArray(), sealedBlob.Bytes, TimeSpan.Zero, CancellationToken.None);
            }
            using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
            using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store, contents), [sink], state, new ArchivePusherOptions(), TimeProvider.System);
            var archived = new List<ArchivedContent>();
            pusher.ContentArchived += archived.Add;
            await pusher.RunOnceAsync(flush: true, CancellationToken.None);
            await pusher.RunOnceAsync(flush: true, CancellationToken.None);
            Assert.That(archived.Select(a => Convert.ToHexStringLower(a.ContentId)), Is.EquivalentTo(made.Select(m => m.Manifest.Id.ToHex())),
                "each complete content once, the partial one never");
            Assert.That(state.Contents(), Has.Count.EqualTo(2));
        }
        // Disaster: the replica's databases and content store are gone.
        Directory.Delete(contentDir, recursive: true);
        foreach (var file in Directory.EnumerateFiles(_dir, "store.db*")) File.Delete(file);

        var output = Path.Combine(_dir, "out");
        var report = await GroupRestorer.RestoreAsync(groupDir, [sink], output, _ => ValueTask.CompletedTask, CancellationToken.None);
        Assert.That((report.Restored, report.Missing, report.Attachments, report.MissingAttachments), Is.EqualTo((4, 0, 2, 1)));
        foreach (var m in made)
        {
            var folder = Path.Combine(output, "attachments", m.Manifest.Id.ToString());
            var file = Directory.GetFiles(folder).Single();
            Assert.That(Path.GetFileName(file), Is.EqualTo(Path.GetFileName(m.Reference.Name)), "only the name's last segment, inside the folder");
            Assert.That(await File.ReadAllBytesAsync(file), Is.EqualTo(m.Plain));
        }
        // Each restored reference resolves against the archived content: same id, and the object verifies.
        foreach (var (id, plain) in referenceBlobs.Where(r => ContentReference.IsReference(r.Value)))
        {
            var restored = await File.ReadAllBytesAsync(Path.Combine(output, id));
            Assert.That(restored, Is.EqualTo(plain));
            var reference = ContentReference.FromBlob(restored);
            var objectId = ArchiveObjectId.Content(reference.Id.Digest);
            var held = await sink.GetAsync(objectId, ContentObject.MaxBytes, CancellationToken.None);
            if (made.Any(m => m.Manifest.Id == reference.Id)) Assert.That(ContentObject.Open(held!, objectId).Manifest.Id, Is.EqualTo(reference.Id));
            else Assert.That(held, Is.Null);
        }
    }

    [Test]
    public async Task Verify_samples_contents_and_finds_a_flipped_byte_which_restore_then_reports_missing()
    {
        var random = new Random(18);
        await using var sink = new DirectorySink(Path.Combine(_dir, "archive"));
        var objects = new List<ArchiveObjectId>();
        for (var i = 0; i < 6; i++)
        {
            var m = TestContents.Make(random, random.Next(1, 50_000), 4 << 10, "x");
            var id = ArchiveObjectId.Content(m.Manifest.Id.Digest);
            await sink.PutAsync(id, ObjectOf(m), CancellationToken.None);
            objects.Add(id);
        }
        var clean = await ArchiveVerifier.VerifyAsync(sink, 100, 0, null, CancellationToken.None);
        Assert.That((clean.Contents, clean.ContentsVerified, clean.Corrupt.Count), Is.EqualTo((6, 6, 0)));

        var victim = objects[2];
        var path = sink.PathOf(victim);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[^7] ^= 0x40;
        await File.WriteAllBytesAsync(path, bytes);
        var damaged = await ArchiveVerifier.VerifyAsync(sink, 100, 0, null, CancellationToken.None);
        Assert.That(damaged.Corrupt, Is.EqualTo(new[] { victim }));
        Assert.That(damaged.ContentsVerified, Is.EqualTo(5));

        // Sampling rotates over contents like packs: every content is checked once over a full cycle of rounds.
        var seen = 0;
        for (var round = 0; round < 4; round++) seen += (await ArchiveVerifier.VerifyAsync(sink, 25, round, null, CancellationToken.None)).ContentsVerified;
        Assert.That(seen, Is.EqualTo(5));
    }

    [Test]
    public async Task Sinks_refuse_content_objects_that_do_not_verify_and_bad_objects_are_refused_clearly()
    {
        var random = new Random(19);
        await using var sink = new DirectorySink(Path.Combine(_dir, "archive"));
        var m = TestContents.Make(random, 40_000, 8 << 10, "x");
        var id = ArchiveObjectId.Content(m.Manifest.Id.Digest);
        var good = ObjectOf(m);
        Assert.That(ContentObject.Open(good, id).Manifest.ChunkCount, Is.EqualTo(5));
        Assert.That(ArchiveObjectId.Parse(id.ToString()), Is.EqualTo(id));

        var flipped = (byte[])good.Clone();
        flipped[^1] ^= 1;
        Assert.That(Assert.Throws<PackFormatException>(() => ContentObject.Open(flipped, id))!.Message, Does.Contain("chunk 4"));
        Assert.That(Assert.Throws<PackFormatException>(() => ContentObject.Open(good.AsSpan(0, good.Length - 1), id))!.Message, Does.Contain("truncated"));
        var other = ArchiveObjectId.Content(new byte[32]);
        Assert.That(Assert.Throws<PackFormatException>(() => ContentObject.Open(good, other))!.Message, Does.Contain("content id"));
        var version = (byte[])good.Clone();
        version[0] = 9;
        Assert.That(Assert.Throws<PackFormatException>(() => ContentObject.Open(version, id))!.Message, Does.Contain("version 9"));
        var overlong = (byte[])good.Clone();
        BitConverter.TryWriteBytes(overlong.AsSpan(1), uint.MaxValue);
        Assert.That(Assert.Throws<PackFormatException>(() => ContentObject.Open(overlong, id))!.Message, Does.Contain("past the object's end"));

        Assert.ThrowsAsync<ArgumentException>(async () => await sink.PutAsync(id, flipped, CancellationToken.None));
        Assert.That(await sink.ExistsAsync(id, CancellationToken.None), Is.False);
        await sink.PutAsync(id, good, CancellationToken.None);
        Assert.That(await sink.GetAsync(id, ContentObject.MaxBytes, CancellationToken.None), Is.EqualTo(good));
    }

    private static byte[] ObjectOf(TestContents.Made m)
    {
        var data = new byte[ContentObject.LengthOf(m.Manifest)];
        var at = ContentObject.WriteHead(m.Manifest, data);
        foreach (var chunk in m.Chunks)
        {
            chunk.CopyTo(data, at);
            at += chunk.Length;
        }
        return data;
    }
}
