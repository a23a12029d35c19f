using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Archive.Tests;

/// <summary>A real replica mailbox store (SQLite file) with mailboxes that carry archive keys, filled with random blobs.</summary>
internal static class ReplicaStore
{
    public sealed record Box(byte[] MailboxId, byte[] Capability, byte[] DeviceId, byte[] ArchiveKey);

    public static List<Box> MakeBoxes(Random random, int count) =>
        [.. Enumerable.Range(0, count).Select(_ => new Box(TestBlobs.Key(random), TestBlobs.Key(random), TestBlobs.Key(random)[..16], TestBlobs.Key(random)))];

    public static Task<MailboxStore> OpenAsync(string path) =>
        MailboxStore.OpenAsync(new MailboxStoreOptions { DatabasePath = path, Role = MailboxRole.Replica });

    /// <summary>Pushes <paramref name="perBox"/> random blobs into each mailbox; returns them per mailbox id (hex).</summary>
    public static async Task<Dictionary<string, List<ArchiveBlob>>> PushAsync(MailboxStore store, IEnumerable<Box> boxes, Random random, int perBox,
        int minBytes, int maxBytes)
    {
        var pushed = new Dictionary<string, List<ArchiveBlob>>();
        foreach (var box in boxes)
        {
            var opened = await store.OpenMailboxAsync(box.MailboxId, box.Capability, box.DeviceId, box.ArchiveKey, CancellationToken.None);
            var list = pushed[Convert.ToHexStringLower(box.MailboxId)] = [];
            var tasks = new List<Task<MailboxPushResult>>();
            var blobs = TestBlobs.Make(random, perBox, minBytes, maxBytes);
            foreach (var blob in blobs) tasks.Add(store.PushAsync(opened.Handle, blob.BlobId, blob.Data, TimeSpan.Zero, CancellationToken.None));
            for (var i = 0; i < blobs.Count; i++) list.Add(blobs[i] with { Cursor = (await tasks[i]).Cursor });
        }
        return pushed;
    }

    /// <summary>Every blob the store holds, per mailbox id (hex).</summary>
    public static async Task<Dictionary<string, List<ArchiveBlob>>> ReadAllAsync(MailboxStore store)
    {
        var all = new Dictionary<string, List<ArchiveBlob>>();
        foreach (var m in await store.ListArchivedMailboxesAsync(CancellationToken.None))
        {
            var list = all[Convert.ToHexStringLower(m.MailboxId.Span)] = [];
            ulong after = 0;
            while (true)
            {
                var page = await store.ReadAfterAsync(m.MailboxId, after, 500, 8 << 20, CancellationToken.None);
                if (page.Blobs.Count == 0) break;
                list.AddRange(page.Blobs.Select(b => new ArchiveBlob(b.Cursor, b.BlobId.ToArray(), b.Data.ToArray())));
                after = page.Blobs[^1].Cursor;
            }
        }
        return all;
    }
}
