using System.Buffers.Binary;
using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Restore;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Tests.Restore;

/// <summary>
/// Restore streams packs from a <c>dir:</c> sink (header first, blobs hashed as each 4 MiB read lands): a damaged copy
/// anywhere in a pack, including past the first read, is refused and the pack taken from the next sink.
/// </summary>
public sealed class StreamedRestoreTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-streamed-restore-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task Packs_damaged_past_the_first_read_truncated_or_with_a_bad_header_length_come_from_the_next_sink()
    {
        var random = new Random(1515);
        var boxes = ReplicaStore.MakeBoxes(random, 1);
        await using var store = await ReplicaStore.OpenAsync(Path.Combine(_dir, "store.db"));
        using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
        await using var damaged = new DirectorySink(Path.Combine(_dir, "damaged"));
        await using var intact = new DirectorySink(Path.Combine(_dir, "intact"));
        // About 26 MiB in packs of 6 MiB: each pack spans two reads, and one is left whole.
        await ReplicaStore.PushAsync(store, boxes, random, 100, 200_000, 340_000);
        using (var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store), [damaged, intact], state,
            new ArchivePusherOptions { TargetPackBytes = 6 << 20 }, TimeProvider.System))
            await pusher.RunOnceAsync(flush: true, CancellationToken.None);
        var packs = state.Packs().Select(p => ArchiveObjectId.Parse(p.PackId)).ToList();
        Assert.That(packs, Has.Count.GreaterThanOrEqualTo(4));
        Assert.That(packs.Take(3).Select(p => new FileInfo(damaged.PathOf(p)).Length), Has.All.GreaterThan(DirectorySink.ReadChunkBytes));

        // A blob byte flipped in the second read, a pack cut in half, a header length pointing past the file's start.
        var flipped = await File.ReadAllBytesAsync(damaged.PathOf(packs[0]));
        flipped[DirectorySink.ReadChunkBytes + 1000] ^= 0x01;
        await File.WriteAllBytesAsync(damaged.PathOf(packs[0]), flipped);
        var truncated = await File.ReadAllBytesAsync(damaged.PathOf(packs[1]));
        await File.WriteAllBytesAsync(damaged.PathOf(packs[1]), truncated[..(truncated.Length / 2)]);
        var badLength = await File.ReadAllBytesAsync(damaged.PathOf(packs[2]));
        BinaryPrimitives.WriteUInt32LittleEndian(badLength.AsSpan(badLength.Length - 4), uint.MaxValue);
        await File.WriteAllBytesAsync(damaged.PathOf(packs[2]), badLength);

        var delivered = new List<ulong>();
        var alone = await ArchiveRestorer.RestoreMailboxAsync([damaged], boxes[0].ArchiveKey, (b, _) =>
        {
            delivered.Add(b.Cursor);
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        Assert.That(alone.MissingPacks, Is.EqualTo(packs.Take(3)));
        Assert.That(alone.Packs, Is.EqualTo(packs.Count - 3));
        Assert.That(delivered, Has.Count.EqualTo(alone.Blobs));
        Assert.That(alone.Blobs + alone.MissingBlobs, Is.EqualTo(100));

        ArchiveCheck.AssertExactlyOnce(await ReplicaStore.ReadAllAsync(store), await ArchiveCheck.RestoreAllAsync([damaged, intact], boxes));
    }
}
