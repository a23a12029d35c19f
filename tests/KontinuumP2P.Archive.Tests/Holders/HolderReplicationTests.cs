using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Replication;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Node.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Archive.Tests.Holders;

/// <summary>
/// Re-replication and parallel placement on a real network (TCP on 127.0.0.1): a replica mailbox node pushing to four
/// archive holders of four providers. Tests run in order; the last one disposes a holder.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(240_000)]
public sealed class HolderReplicationTests
{
    private static readonly string[] Providers = ["prov-a", "prov-b", "prov-c", "prov-d"];
    private readonly List<KontinuumNode> _nodes = [];
    private readonly List<Ed25519Identity> _keys = [];
    private DevnetAuthority _authority = null!;
    private string _dir = null!;
    private KontinuumNode _pusher = null!;
    private List<KontinuumNode> _holders = null!;

    [OneTimeSetUp]
    public async Task StartNetwork()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var ct = cts.Token;
        _dir = Directory.CreateTempSubdirectory("kp-holder-repl-").FullName;
        _authority = new DevnetAuthority("holder-repl", 1, 1, TimeProvider.System);
        _pusher = await StartAsync(["dht", "mailbox"], "prov-m", ct, o =>
        {
            o.Mailbox = new MailboxServerOptions { Store = new MailboxStoreOptions { DatabasePath = Path.Combine(_dir, "pusher", "mbx.db"), Role = MailboxRole.Replica } };
            o.Archive = new NodeArchiveOptions
            {
                Sinks = ["peers"],
                StatePath = Path.Combine(_dir, "pusher", "archive-state.db"),
                // Only the test's rounds push and re-replicate: the background loops wait a day.
                Pusher = new KontinuumP2P.Archive.Pushing.ArchivePusherOptions { TargetPackBytes = 16 << 10, MaxPackAge = TimeSpan.FromDays(1), PollInterval = TimeSpan.FromHours(1) },
                Replication = new HolderReplicationOptions { Interval = TimeSpan.FromDays(1), ObjectsPerRound = 1000 },
            };
        });
        _holders = [];
        for (var i = 0; i < Providers.Length; i++)
        {
            var folder = Path.Combine(_dir, $"holder-{i}");
            _holders.Add(await StartAsync(["dht", "archive"], Providers[i], ct, o => o.ArchiveHolder = new KontinuumP2P.Archive.Holders.ArchiveHolderOptions { Directory = folder }));
        }
        foreach (var holder in _holders) Assert.That(await holder.ArchiveHolder!.AnnounceAsync(ct), Is.GreaterThan(0));
    }

    [OneTimeTearDown]
    public async Task StopNetwork()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        foreach (var key in _keys) key.Dispose();
        _authority.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<KontinuumNode> StartAsync(string[] capabilities, string provider, CancellationToken ct, Action<KontinuumNodeOptions> configure)
    {
        var key = Ed25519Identity.Generate();
        _keys.Add(key);
        var options = new KontinuumNodeOptions
        {
            Identity = key,
            Network = _authority.Network,
            Certificate = _authority.IssueCertificate(key, TimeSpan.FromDays(1), capabilities, provider),
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            ExtraBootstrapPeers = _nodes.Count == 0 ? [] : [_nodes[0].ListenAddresses[0].WithPeerId(_nodes[0].PeerId)],
        };
        configure(options);
        var node = await KontinuumNode.StartAsync(options, ct);
        _nodes.Add(node);
        return node;
    }

    /// <summary>Per object held by the live holders, the providers holding it.</summary>
    private async Task<Dictionary<ArchiveObjectId, List<string>>> WhereAsync(CancellationToken ct)
    {
        var where = new Dictionary<ArchiveObjectId, List<string>>();
        for (var i = 0; i < _holders.Count; i++)
        {
            if (!_nodes.Contains(_holders[i])) continue;
            foreach (var kind in new[] { ArchiveObjectKind.Pack, ArchiveObjectKind.Manifest })
            {
                await foreach (var id in _holders[i].ArchiveHolder!.Store.ListAsync(kind, ct))
                    (where.TryGetValue(id, out var list) ? list : where[id] = []).Add(Providers[i]);
            }
        }
        return where;
    }

    [Test]
    [Order(1)]
    public async Task The_three_puts_of_one_object_run_at_the_same_time(CancellationToken ct)
    {
        // Each holder's session waits (bounded) until three sessions are open across the holders: if the puts ran one
        // after another, the first would time out alone and the count would never reach three while it waited.
        using var three = new CountdownEvent(3);
        var together = 0;
        foreach (var holder in _holders)
        {
            holder.ArchiveHolder!.SessionOpened = _ =>
            {
                try
                {
                    three.Signal();
                }
                catch (InvalidOperationException)
                {
                    return; // a fourth session (none expected): the count is already reached
                }
                if (three.Wait(TimeSpan.FromSeconds(20))) Interlocked.Increment(ref together);
            };
        }
        try
        {
            var bytes = new byte[50_000];
            new Random(41).NextBytes(bytes);
            var id = ArchiveObjectId.Pack(Hashing.Blake3(bytes));
            var placed = new List<(PeerId, string)>();
            await using var sink = _pusher.OpenPeersArchiveSink();
            sink.Placed += (_, holders) => placed.AddRange(holders);
            await sink.PutAsync(id, bytes, ct);
            Assert.That(together, Is.EqualTo(3), "three stores were open at once");
            Assert.That(placed.Select(p => p.Item2).ToList(), Has.Count.EqualTo(3).And.Unique);
        }
        finally
        {
            foreach (var holder in _holders) holder.ArchiveHolder!.SessionOpened = null;
        }
    }

    [Test]
    [Order(2)]
    public async Task When_a_holder_leaves_every_object_returns_to_three_providers(CancellationToken ct)
    {
        var random = new Random(77);
        var boxes = ReplicaStore.MakeBoxes(random, 2);
        var store = _pusher.MailboxServer!.Store;
        await ReplicaStore.PushAsync(store, boxes, random, 40, 200, 2000);
        await _pusher.ArchivePusher!.RunOnceAsync(flush: true, ct);
        var stored = await ReplicaStore.ReadAllAsync(store);
        foreach (var (mailbox, blobs) in stored)
            Assert.That(_pusher.ArchiveStatus!.ArchivedUpTo[mailbox], Is.EqualTo(blobs[^1].Cursor));

        // The pusher's objects: its packs and their manifests (the object of test 1 is no pusher's and not re-replicated).
        var ours = new HashSet<ArchiveObjectId>();
        using (var state = new KontinuumP2P.Archive.Pushing.PusherStateStore(Path.Combine(_dir, "pusher", "archive-state.db")))
        {
            var keys = boxes.ToDictionary(b => Convert.ToHexStringLower(b.MailboxId), b => ArchiveKeys.Derive(b.ArchiveKey));
            foreach (var pack in state.Packs())
            {
                ours.Add(ArchiveObjectId.Parse(pack.PackId));
                ours.Add(keys[Convert.ToHexStringLower(pack.MailboxId)].ManifestAddress(pack.Sequence));
            }
        }
        var before = await WhereAsync(ct);
        Assert.That(ours, Has.Count.GreaterThanOrEqualTo(6), "packs and manifests of two mailboxes");
        foreach (var id in ours) Assert.That(before[id], Has.Count.EqualTo(3).And.Unique, $"{id} before");
        var replicator = _pusher.ArchiveReplicator!;
        var idle = await replicator.RunOnceAsync(ct);
        Assert.That((idle.Checked, idle.Repaired, idle.Failed), Is.EqualTo((ours.Count, 0, 0)), "nothing to do while every holder is up");

        // The holder with the most objects leaves; its provider records stay in the DHT until they expire.
        var counts = Providers.Select(p => ours.Count(o => before[o].Contains(p))).ToArray();
        var gone = Array.IndexOf(counts, counts.Max());
        Assert.That(counts[gone], Is.GreaterThan(0));
        await _holders[gone].DisposeAsync();
        _nodes.Remove(_holders[gone]);

        // One round covers every object (1,000 per round).
        var round = await replicator.RunOnceAsync(ct);
        Assert.That((round.Checked, round.Repaired, round.Failed), Is.EqualTo((ours.Count, counts[gone], 0)), "every object the gone holder had is copied once");
        var after = await WhereAsync(ct);
        foreach (var id in ours)
            Assert.That(after[id], Has.Count.EqualTo(3).And.Unique.And.No.EqualTo(Providers[gone]), $"{id} is back on 3 providers");

        // Restoring through the survivors gives every blob back, and a second round has nothing to do.
        await using var sink = _pusher.OpenPeersArchiveSink();
        ArchiveCheck.AssertExactlyOnce(stored, await ArchiveCheck.RestoreAllAsync([sink], boxes));
        var again = await replicator.RunOnceAsync(ct);
        Assert.That((again.Repaired, again.Failed), Is.EqualTo((0, 0)));
    }

    [Test]
    [Order(3)]
    public async Task The_loop_checks_a_bounded_number_per_interval_holds_memory_flat_and_stops(CancellationToken ct)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var state = new KontinuumP2P.Archive.Pushing.PusherStateStore(Path.Combine(_dir, "pusher", "archive-state.db"));
        await using var sink = _pusher.OpenPeersArchiveSink();
        using var loop = new HolderReplicator(sink, new KontinuumP2P.Archive.Mailboxes.MailboxStoreArchiveSource(_pusher.MailboxServer!.Store), state,
            new HolderReplicationOptions { Interval = TimeSpan.FromMinutes(1), ObjectsPerRound = 4 }, time);
        var rounds = new List<ReplicationRound>();
        var completed = new SemaphoreSlim(0);
        loop.RoundCompleted += r =>
        {
            lock (rounds) rounds.Add(r);
            completed.Release();
        };
        await loop.StartAsync(ct);
        Assert.That(await completed.WaitAsync(TimeSpan.FromMilliseconds(200), ct), Is.False, "no round before the first interval");
        long baseline = 0;
        var cpu = TimeSpan.Zero;
        const int Rounds = 60;
        for (var i = 0; i < Rounds; i++)
        {
            if (i == 10)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                baseline = GC.GetTotalMemory(forceFullCollection: true);
                cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
            }
            time.Advance(TimeSpan.FromMinutes(1));
            Assert.That(await completed.WaitAsync(TimeSpan.FromSeconds(60), ct), Is.True, $"round {i} ran");
        }
        cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var end = GC.GetTotalMemory(forceFullCollection: true);
        TestContext.Out.WriteLine($"heap after round 10: {baseline / 1024} KiB, after {Rounds}: {end / 1024} KiB; CPU for {Rounds - 10} rounds: {cpu.TotalMilliseconds:F0} ms");
        lock (rounds)
        {
            Assert.That(rounds, Has.Count.EqualTo(Rounds), "one round per interval, never a burst");
            Assert.That(rounds.Select(r => r.Checked), Is.All.EqualTo(4), "the rate limit: 4 objects per interval");
            Assert.That(rounds.Sum(r => r.Repaired + r.Failed), Is.Zero, "every object is already on 3 providers");
        }
        Assert.That(end - baseline, Is.LessThan(8L << 20), "managed heap growth over 50 rounds");
        Assert.That(cpu / (Rounds - 10), Is.LessThan(TimeSpan.FromSeconds(1)), "CPU per round of 4 checks");

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await loop.StopAsync(stop.Token);
        Assert.That(loop.ExecuteTask!.IsCompleted, Is.True);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.That(await completed.WaitAsync(TimeSpan.FromMilliseconds(200), ct), Is.False, "no round after stop");
    }

    [Test]
    [Order(4)]
    public async Task Manifests_lost_on_every_holder_are_resealed_byte_identical_from_their_packs(CancellationToken ct)
    {
        var random = new Random(78);
        var boxes = ReplicaStore.MakeBoxes(random, 1);
        var store = _pusher.MailboxServer!.Store;
        await ReplicaStore.PushAsync(store, boxes, random, 40, 200, 2000);
        await _pusher.ArchivePusher!.RunOnceAsync(flush: true, ct);
        var keys = ArchiveKeys.Derive(boxes[0].ArchiveKey);
        var mailbox = Convert.ToHexStringLower(boxes[0].MailboxId);
        List<KontinuumP2P.Archive.Pushing.ArchivedPack> chain;
        using (var state = new KontinuumP2P.Archive.Pushing.PusherStateStore(Path.Combine(_dir, "pusher", "archive-state.db")))
            chain = [.. state.Packs().Where(p => Convert.ToHexStringLower(p.MailboxId) == mailbox)];
        Assert.That(chain, Has.Count.GreaterThanOrEqualTo(3));

        // Two consecutive manifests vanish from every live holder: the second can only be rebuilt after the first.
        var live = _holders.Where(_nodes.Contains).ToList();
        var lost = new[] { keys.ManifestAddress(1), keys.ManifestAddress(2) };
        var original = new Dictionary<ArchiveObjectId, byte[]>();
        foreach (var id in lost)
        {
            foreach (var holder in live)
            {
                var path = holder.ArchiveHolder!.Store.PathOf(id);
                if (!File.Exists(path)) continue;
                original[id] = await File.ReadAllBytesAsync(path, ct);
                File.Delete(path);
            }
        }
        Assert.That(original.Keys, Is.EquivalentTo(lost));
        Assert.That((await WhereAsync(ct)).Keys, Has.No.Member(lost[0]).And.No.Member(lost[1]));

        var round = await _pusher.ArchiveReplicator!.RunOnceAsync(ct);
        Assert.That((round.Repaired, round.Failed), Is.EqualTo((2, 0)), "exactly the two manifests are rebuilt");
        var after = await WhereAsync(ct);
        foreach (var id in lost)
        {
            Assert.That(after[id], Has.Count.EqualTo(3).And.Unique, $"{id} is back on 3 providers");
            foreach (var holder in live.Where(h => File.Exists(h.ArchiveHolder!.Store.PathOf(id))))
                Assert.That(await File.ReadAllBytesAsync(holder.ArchiveHolder!.Store.PathOf(id), ct), Is.EqualTo(original[id]), "byte-identical");
        }
        await using var sink = _pusher.OpenPeersArchiveSink();
        var stored = await ReplicaStore.ReadAllAsync(store);
        ArchiveCheck.AssertExactlyOnce(new() { [mailbox] = stored[mailbox] }, await ArchiveCheck.RestoreAllAsync([sink], boxes));
    }
}
