using KontinuumP2P.Archive.Holders;
using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Archive.Tests.Holders;

/// <summary>
/// The disaster drill of <see cref="Restore.DisasterDrillTests"/> for the <c>peers</c> sink: 2,001 blobs in three
/// replica mailboxes archived to four holders of three providers, the store's files deleted, every blob restored
/// bit-identical from the holders alone, and the holders keep exactly the packs the manifest chains name.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(240_000)]
public sealed class PeersDisasterDrillTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-peers-drill-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task Every_blob_comes_back_from_the_holders_after_the_store_is_destroyed(CancellationToken ct)
    {
        using var authority = new DevnetAuthority("peers-drill", 1, 1, TimeProvider.System);
        var keys = new List<Ed25519Identity>();
        var nodes = new List<KontinuumNode>();
        try
        {
            async Task<KontinuumNode> Start(string[] capabilities, string provider, Action<KontinuumNodeOptions>? configure = null)
            {
                var key = Ed25519Identity.Generate();
                keys.Add(key);
                var options = new KontinuumNodeOptions
                {
                    Identity = key,
                    Network = authority.Network,
                    Certificate = authority.IssueCertificate(key, TimeSpan.FromDays(1), capabilities, provider),
                    ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
                    ExtraBootstrapPeers = nodes.Count == 0 ? [] : [nodes[0].ListenAddresses[0].WithPeerId(nodes[0].PeerId)],
                };
                configure?.Invoke(options);
                var node = await KontinuumNode.StartAsync(options, ct);
                nodes.Add(node);
                return node;
            }

            // The pusher's node: a mailbox certificate, so holders let it store.
            var pusherNode = await Start(["dht", "mailbox"], "drill-m");
            var providers = new[] { "drill-a", "drill-b", "drill-c", "drill-c" };
            for (var i = 0; i < providers.Length; i++)
            {
                var folder = Path.Combine(_dir, $"holder-{i}");
                await Start(["dht", "archive"], providers[i], o => o.ArchiveHolder = new ArchiveHolderOptions { Directory = folder });
            }
            foreach (var holder in nodes.Skip(1)) await holder.ArchiveHolder!.AnnounceAsync(ct);

            var random = new Random(2027);
            var boxes = ReplicaStore.MakeBoxes(random, 3);
            var storePath = Path.Combine(_dir, "store.db");
            Dictionary<string, List<ArchiveBlob>> stored;
            await using (var sink = pusherNode.OpenPeersArchiveSink())
            {
                await using var store = await ReplicaStore.OpenAsync(storePath);
                using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
                using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store), [sink], state,
                    new ArchivePusherOptions { TargetPackBytes = 256 * 1024 }, TimeProvider.System);
                var failures = 0;
                pusher.MailboxFailed += (_, _) => Interlocked.Increment(ref failures);
                for (var wave = 0; wave < 3; wave++)
                {
                    await ReplicaStore.PushAsync(store, boxes, random, 223, 16, 4096);
                    await pusher.RunOnceAsync(flush: false, ct);
                }
                await pusher.RunOnceAsync(flush: true, ct);
                Assert.That(failures, Is.Zero);
                stored = await ReplicaStore.ReadAllAsync(store);
            }
            Assert.That(stored.Values.Sum(v => v.Count), Is.EqualTo(2007));
            foreach (var file in Directory.EnumerateFiles(_dir, "store.db*")) File.Delete(file);

            // Restore from a node that never pushed: everything found through the DHT.
            var restorer = await Start(["dht"], "drill-r");
            await using var fromPeers = restorer.OpenPeersArchiveSink();
            ArchiveCheck.AssertExactlyOnce(stored, await ArchiveCheck.RestoreAllAsync([fromPeers], boxes));
            await ArchiveCheck.AssertNoOrphanOrDuplicatePacksAsync(fromPeers, boxes);
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
            foreach (var key in keys) key.Dispose();
        }
    }
}
