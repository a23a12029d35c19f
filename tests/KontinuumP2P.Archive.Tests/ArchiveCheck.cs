using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Manifests;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Restore;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Tests;

/// <summary>Restores every mailbox from a sink and compares with what the store held.</summary>
internal static class ArchiveCheck
{
    public static async Task<Dictionary<string, List<RestoredBlob>>> RestoreAllAsync(IReadOnlyList<IArchiveSink> sinks, IEnumerable<ReplicaStore.Box> boxes)
    {
        var restored = new Dictionary<string, List<RestoredBlob>>();
        foreach (var box in boxes)
        {
            var list = restored[Convert.ToHexStringLower(box.MailboxId)] = [];
            var report = await ArchiveRestorer.RestoreMailboxAsync(sinks, box.ArchiveKey, (b, _) =>
            {
                list.Add(b with { BlobId = b.BlobId.ToArray(), Sealed = b.Sealed.ToArray() });
                return ValueTask.CompletedTask;
            }, CancellationToken.None);
            Assert.That(report.MissingPacks, Is.Empty);
            Assert.That(report.ChainError, Is.Null);
        }
        return restored;
    }

    /// <summary>Every stored blob restored exactly once, bit-identical, with its cursor.</summary>
    public static void AssertExactlyOnce(Dictionary<string, List<ArchiveBlob>> stored, Dictionary<string, List<RestoredBlob>> restored)
    {
        Assert.That(restored.Keys, Is.EquivalentTo(stored.Keys));
        foreach (var (mailbox, blobs) in stored)
        {
            var got = restored[mailbox];
            Assert.That(got.Select(b => b.Cursor), Is.EqualTo(blobs.Select(b => b.Cursor)), $"cursors of mailbox {mailbox[..8]} (each exactly once, in order)");
            for (var i = 0; i < blobs.Count; i++)
            {
                Assert.That(got[i].BlobId.ToArray(), Is.EqualTo(blobs[i].BlobId.ToArray()));
                Assert.That(got[i].Sealed.ToArray(), Is.EqualTo(blobs[i].Data.ToArray()), $"blob at cursor {blobs[i].Cursor}");
            }
        }
    }

    /// <summary>The packs the sink holds are exactly those the manifest chains name, each named once.</summary>
    public static async Task AssertNoOrphanOrDuplicatePacksAsync(IArchiveSink sink, IEnumerable<ReplicaStore.Box> boxes)
    {
        var named = new List<ArchiveObjectId>();
        foreach (var box in boxes)
        {
            await foreach (var (m, _) in ManifestChain.ReadAsync(sink, ArchiveKeys.Derive(box.ArchiveKey), CancellationToken.None)) named.Add(m.PackId);
        }
        var held = new List<ArchiveObjectId>();
        await foreach (var id in sink.ListAsync(ArchiveObjectKind.Pack, CancellationToken.None)) held.Add(id);
        Assert.That(named, Is.Unique, "no pack named twice");
        Assert.That(held, Is.EquivalentTo(named), "no pack in the sink that no manifest names");
    }
}
