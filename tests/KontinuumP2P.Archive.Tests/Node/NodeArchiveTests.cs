using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Node.Configuration;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Archive.Tests.Node;

/// <summary>The pusher composed into a node: <c>[archive]</c> in node.toml, the store's trim hold, packs in the sink.</summary>
[TestFixture]
[CancelAfter(180_000)]
public sealed class NodeArchiveTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-node-archive-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task A_node_with_archive_options_packs_its_replica_and_trims_only_what_is_archived(CancellationToken cancellationToken)
    {
        using var authority = new DevnetAuthority("devnet", 1, 1, TimeProvider.System);
        using var key = Ed25519Identity.Generate();
        var sinkPath = Path.Combine(_dir, "archive");
        await using var node = await KontinuumNode.StartAsync(new KontinuumNodeOptions
        {
            Identity = key,
            Network = authority.Network,
            Certificate = authority.IssueCertificate(key, TimeSpan.FromDays(1), ["dht", "mailbox"]),
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            DataDirectory = _dir,
            Mailbox = new MailboxServerOptions { Store = new MailboxStoreOptions { DatabasePath = Path.Combine(_dir, "mailbox.db"), Role = MailboxRole.Replica } },
            Archive = new NodeArchiveOptions
            {
                Sinks = ["dir:" + sinkPath],
                // Full packs are cut by the background loop; the tail would wait a day, so the test flushes it.
                Pusher = new ArchivePusherOptions { TargetPackBytes = 4096, MaxPackAge = TimeSpan.FromDays(1), PollInterval = TimeSpan.FromMilliseconds(200) },
            },
        }, cancellationToken);
        var store = node.MailboxServer!.Store;
        var pusher = node.ArchivePusher!;
        Assert.That(pusher, Is.Not.Null);
        var random = new Random(7);
        var box = ReplicaStore.MakeBoxes(random, 1)[0];
        var hex = Convert.ToHexStringLower(box.MailboxId);
        var fullPack = new TaskCompletionSource<ArchivedPack>(TaskCreationOptions.RunContinuationsAsynchronously);
        pusher.PackArchived += p => fullPack.TrySetResult(p);

        // Three 1000-byte blobs: below a pack, acked by the only device, so trimming would delete them but for the hold.
        await ReplicaStore.PushAsync(store, [box], random, 3, 1000, 1000);
        var opened = await store.OpenMailboxAsync(box.MailboxId, box.Capability, box.DeviceId, box.ArchiveKey, cancellationToken);
        await store.AckAsync(opened.Handle, opened.MaxCursor, cancellationToken);
        await store.RunCleanupAsync(cancellationToken);
        Assert.That((await ReplicaStore.ReadAllAsync(store))[hex], Has.Count.EqualTo(3), "acked but unarchived blobs stay");

        // Ten more: the background loop cuts full packs; trimming follows archived_up_to exactly.
        await ReplicaStore.PushAsync(store, [box], random, 10, 1000, 1000);
        var first = await fullPack.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        Assert.That(first.FirstCursor, Is.EqualTo(1UL));
        opened = await store.OpenMailboxAsync(box.MailboxId, box.Capability, box.DeviceId, box.ArchiveKey, cancellationToken);
        await store.AckAsync(opened.Handle, opened.MaxCursor, cancellationToken);
        await pusher.RunOnceAsync(flush: false, cancellationToken);
        var archived = node.ArchiveStatus!.ArchivedUpTo[hex];
        Assert.That(archived, Is.InRange(first.LastCursor, 12UL), "the tail below a pack size waits");
        await store.RunCleanupAsync(cancellationToken);
        var left = (await ReplicaStore.ReadAllAsync(store))[hex];
        Assert.That(left[0].Cursor, Is.EqualTo(archived + 1));
        Assert.That(left[^1].Cursor, Is.EqualTo(13UL));

        await pusher.RunOnceAsync(flush: true, cancellationToken);
        Assert.That(node.ArchiveStatus!.ArchivedUpTo[hex], Is.EqualTo(13UL));
        await store.RunCleanupAsync(cancellationToken);
        Assert.That((await ReplicaStore.ReadAllAsync(store)).GetValueOrDefault(hex) ?? [], Is.Empty);
        Assert.That(node.ArchiveStatus!.Blobs, Is.EqualTo(13));

        await using var sink = new DirectorySink(sinkPath);
        var report = await KontinuumP2P.Archive.Restore.ArchiveVerifier.VerifyAsync(sink, 100, 0, null, cancellationToken);
        Assert.That(report.Packs, Is.EqualTo(node.ArchiveStatus!.Packs));
        Assert.That(report.Verified, Is.EqualTo(report.Packs));
        Assert.That(report.Corrupt, Is.Empty);
    }

    [Test]
    public void The_archive_section_of_node_toml_is_resolved_and_checked()
    {
        var files = DevnetLayout.Write(Path.Combine(_dir, "dn"), 2, 40400, TimeSpan.FromDays(1), TimeProvider.System);
        var path = files.Nodes[0].ConfigPath;
        var none = new Dictionary<string, string>();
        // devnet init wrote [archive] on the replica (node 0): dir: and peers, with R = 1 as the one other node is the only holder.
        using (var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, none), path))
        {
            var archive = resolved.Options.Archive!;
            Assert.That(archive.Sinks, Is.EqualTo(new[] { "dir:" + Path.GetFullPath(Path.Combine(_dir, "dn", "archive")), "peers" }));
            Assert.That(archive.Peers!.Replicas, Is.EqualTo(1));
            Assert.That((archive.Pusher.MaxPackAge, archive.Pusher.PollInterval), Is.EqualTo((TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1))));
            Assert.That((archive.Replication!.Interval, archive.Replication.ObjectsPerRound), Is.EqualTo((TimeSpan.FromSeconds(30), 64)));
        }
        using (var holder = NodeConfigResolver.Resolve(NodeConfigLoader.Load(files.Nodes[1].ConfigPath, none), files.Nodes[1].ConfigPath))
        {
            Assert.That(holder.Options.ArchiveHolder!.AnnounceInterval, Is.EqualTo(TimeSpan.FromSeconds(10)), "node 1 is a holder");
            Assert.That(holder.Options.Certificate!.Body.Capabilities, Does.Contain("archive"));
        }
        var overrides = new Dictionary<string, string>
        {
            ["KONTINUUM__ARCHIVE__SINKS"] = "dir:cold",
            ["KONTINUUM__ARCHIVE__PACK_SIZE"] = "4096",
            ["KONTINUUM__ARCHIVE__INTERVAL"] = "2m",
            ["KONTINUUM__ARCHIVE__POLL_INTERVAL"] = "5s",
            ["KONTINUUM__ARCHIVE__REPLICATION_OBJECTS"] = "8",
        };
        using (var resolved = NodeConfigResolver.Resolve(NodeConfigLoader.Load(path, overrides), path))
        {
            var archive = resolved.Options.Archive!;
            Assert.That(archive.Sinks, Is.EqualTo(new[] { "dir:" + Path.Combine(Path.GetDirectoryName(path)!, "cold") }));
            Assert.That(archive.Pusher.TargetPackBytes, Is.EqualTo(4096));
            Assert.That(archive.Pusher.MaxPackAge, Is.EqualTo(TimeSpan.FromMinutes(2)));
            Assert.That(archive.Pusher.PollInterval, Is.EqualTo(TimeSpan.FromSeconds(5)));
            Assert.That(archive.Replication!.ObjectsPerRound, Is.EqualTo(8));
            Assert.That(archive.StatePath, Does.EndWith("archive-state.db"));
        }
        foreach (var (key, value) in new[] { ("PEERS_REPLICAS", "0"), ("REPLICATION_OBJECTS", "0"), ("REPLICATION_INTERVAL", "0s") })
        {
            var refused = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path,
                new Dictionary<string, string> { ["KONTINUUM__ARCHIVE__" + key] = value }), path))!;
            Assert.That(refused.Message, Does.StartWith("archive." + key.ToLowerInvariant()));
        }
        var unknown = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path,
            new Dictionary<string, string> { ["KONTINUUM__ARCHIVE__SINKS"] = "ftp://x" }), path).Options.Validate())!;
        Assert.That(unknown.Message, Does.StartWith("archive.sinks"));
        var size = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path,
            new Dictionary<string, string> { ["KONTINUUM__ARCHIVE__PACK_SIZE"] = "10" }), path))!;
        Assert.That(size.Message, Does.StartWith("archive.pack_size"));
        var ephemeral = Assert.Throws<NodeConfigException>(() => NodeConfigResolver.Resolve(NodeConfigLoader.Load(path,
            new Dictionary<string, string> { ["KONTINUUM__MAILBOX__ROLE"] = "ephemeral" }), path))!;
        Assert.That(ephemeral.Message, Does.StartWith("archive.enabled").And.Contain("replica"));
    }
}
