using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Restore;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Archive.Tests.Restore;

/// <summary>A group's blobs, sealed by the mailbox client's crypto and fanned out to two replica mailboxes, restored as plaintext from the group folder alone.</summary>
public sealed class GroupRestoreTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-group-restore-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task A_group_folder_and_a_sink_give_back_every_plaintext_even_with_one_mailbox_archive_damaged()
    {
        var random = new Random(15);
        var groupDir = Path.Combine(_dir, "group");
        var slots = new[] { "mbx-eu-001", "mbx-us-002" };
        var plaintexts = new Dictionary<string, byte[]>();
        var storePath = Path.Combine(_dir, "store.db");
        await using var sink = new DirectorySink(Path.Combine(_dir, "archive"));
        using (var group = GroupStore.Create(groupDir, GroupSecret.Generate(), "devnet", slots, 1))
        {
            await using var store = await ReplicaStore.OpenAsync(storePath);
            var handles = new List<KontinuumP2P.Mailbox.Storage.MailboxHandle>();
            foreach (var slot in slots)
            {
                var keys = group.Current.SlotKeys[slot];
                handles.Add((await store.OpenMailboxAsync(keys.MailboxId, keys.Capability, TestBlobs.Key(random)[..16], keys.ArchiveKey, CancellationToken.None)).Handle);
            }
            for (var i = 0; i < 60; i++)
            {
                var plain = new byte[random.Next(0, 9000)];
                random.NextBytes(plain);
                var sealedBlob = BlobCipher.Seal(group.Current.Keys.BlobKey, plain);
                plaintexts[sealedBlob.Id.ToString()] = plain;
                foreach (var handle in handles) await store.PushAsync(handle, sealedBlob.Id.Digest.ToArray(), sealedBlob.Bytes, TimeSpan.Zero, CancellationToken.None);
            }
            using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
            using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store), [sink], state, new ArchivePusherOptions { TargetPackBytes = 32 * 1024 }, TimeProvider.System);
            await pusher.RunOnceAsync(flush: true, CancellationToken.None);
            // One pack of the first mailbox's archive is lost: the second mailbox holds the same blobs.
            var first = state.Packs().First(p => p.MailboxId.AsSpan().SequenceEqual(group.Current.SlotKeys[slots[0]].MailboxId));
            File.Delete(sink.PathOf(ArchiveObjectId.Parse(first.PackId)));
        }
        foreach (var file in Directory.EnumerateFiles(_dir, "store.db*")) File.Delete(file);

        var output = Path.Combine(_dir, "out");
        var lines = new List<GroupRestoredBlob>();
        var report = await GroupRestorer.RestoreAsync(groupDir, [sink], output, b =>
        {
            lines.Add(b);
            return ValueTask.CompletedTask;
        }, CancellationToken.None);

        Assert.That((report.Restored, report.Missing, report.Undecryptable), Is.EqualTo((60, 0, 0)));
        Assert.That(report.Verified, Is.LessThan(120).And.GreaterThan(60), "copies from both mailboxes, minus the lost pack");
        Assert.That(lines.Select(l => l.BlobId), Is.EquivalentTo(plaintexts.Keys));
        foreach (var (id, plain) in plaintexts) Assert.That(await File.ReadAllBytesAsync(Path.Combine(output, id)), Is.EqualTo(plain), id);
        Assert.That(Directory.EnumerateFiles(output, "*.partial"), Is.Empty);
    }

    [Test]
    public void A_folder_without_a_group_is_refused_clearly()
    {
        var e = Assert.ThrowsAsync<DirectoryNotFoundException>(async () =>
            await GroupRestorer.RestoreAsync(_dir, [new DirectorySink(Path.Combine(_dir, "s"))], Path.Combine(_dir, "o"), _ => ValueTask.CompletedTask, CancellationToken.None));
        Assert.That(e!.Message, Does.Contain("no group"));
    }
}
