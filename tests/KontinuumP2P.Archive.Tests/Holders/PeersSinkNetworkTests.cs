using Google.Protobuf;
using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Holders;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Devnet;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Archive.Tests.Holders;

/// <summary>
/// The <c>peers</c> sink on a real network (TCP on 127.0.0.1, one devnet authority): a replica mailbox node pushing to
/// five archive holders of three providers, a sixth holder with a tiny quota, a certified peer without the
/// <c>mailbox</c> capability and an uncertified client. Tests run in order; the last one stops holders.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(240_000)]
public sealed class PeersSinkNetworkTests
{
    private static readonly string[] Providers = ["prov-a", "prov-a", "prov-b", "prov-c", "prov-c"];
    private readonly List<KontinuumNode> _nodes = [];
    private readonly List<Ed25519Identity> _keys = [];
    private DevnetAuthority _authority = null!;
    private string _dir = null!;
    private KontinuumNode _pusher = null!;
    private List<KontinuumNode> _holders = null!;
    private KontinuumNode _tiny = null!, _stranger = null!, _client = null!;

    [OneTimeSetUp]
    public async Task StartNetwork()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var ct = cts.Token;
        _dir = Directory.CreateTempSubdirectory("kp-peers-sink-").FullName;
        _authority = new DevnetAuthority("peers-sink", 1, 1, TimeProvider.System);
        _pusher = await StartAsync(["dht", "mailbox"], "prov-m", ct, o =>
        {
            o.Mailbox = new MailboxServerOptions { Store = new MailboxStoreOptions { DatabasePath = Path.Combine(_dir, "pusher", "mbx.db"), Role = MailboxRole.Replica } };
            o.Archive = new NodeArchiveOptions
            {
                Sinks = ["peers"],
                StatePath = Path.Combine(_dir, "pusher", "archive-state.db"),
                // Packs of about 16 KiB; the background loop waits a day, so only the test's rounds push.
                Pusher = new ArchivePusherOptions { TargetPackBytes = 16 << 10, MaxPackAge = TimeSpan.FromDays(1), PollInterval = TimeSpan.FromHours(1) },
            };
        });
        _holders = [];
        for (var i = 0; i < Providers.Length; i++)
        {
            var folder = Path.Combine(_dir, $"holder-{i}");
            _holders.Add(await StartAsync(["dht", "archive"], Providers[i], ct, o => o.ArchiveHolder = new ArchiveHolderOptions { Directory = folder }));
        }
        _tiny = await StartAsync(["dht", "archive"], "prov-d", ct,
            o => o.ArchiveHolder = new ArchiveHolderOptions { Directory = Path.Combine(_dir, "tiny"), QuotaBytes = 4096, MaxObjectBytes = 1 << 20, MaxSessions = 3, MaxConcurrentStores = 1 });
        _stranger = await StartAsync(["dht"], "prov-s", ct);
        _client = await StartAsync(null, "", ct);
        // Announce again now that every node is up (each announced once at start, when the network was smaller).
        foreach (var holder in _holders.Append(_tiny)) Assert.That(await holder.ArchiveHolder!.AnnounceAsync(ct), Is.GreaterThan(0));
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

    private async Task<KontinuumNode> StartAsync(string[]? capabilities, string provider, CancellationToken ct, Action<KontinuumNodeOptions>? configure = null)
    {
        var key = Ed25519Identity.Generate();
        _keys.Add(key);
        var options = new KontinuumNodeOptions
        {
            Identity = key,
            Network = _authority.Network,
            Certificate = capabilities is null ? null : _authority.IssueCertificate(key, TimeSpan.FromDays(1), capabilities, provider),
            ListenAddresses = capabilities is null ? [] : [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            ExtraBootstrapPeers = _nodes.Count == 0 ? [] : [_nodes[0].ListenAddresses[0].WithPeerId(_nodes[0].PeerId)],
            DhtMode = capabilities is null ? Dht.DhtMode.Client : null,
        };
        configure?.Invoke(options);
        var node = await KontinuumNode.StartAsync(options, ct);
        _nodes.Add(node);
        return node;
    }

    private static ArchiveHolderClient Client(KontinuumNode from) => new(from.Host!, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1));

    private static (ArchiveObjectId Id, byte[] Bytes) RandomObject(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return (ArchiveObjectId.Pack(Hashing.Blake3(bytes)), bytes);
    }

    [Test]
    [Order(1)]
    public async Task A_pack_whose_bytes_do_not_hash_to_its_id_is_refused_and_not_stored(CancellationToken ct)
    {
        var (id, bytes) = RandomObject(1000, 1);
        var (_, other) = RandomObject(1000, 2);
        var client = Client(_pusher);
        var refused = Assert.ThrowsAsync<HolderException>(async () => await client.StoreAsync(_tiny.PeerId, id, other, replace: false, ct))!;
        Assert.That(refused.Code, Is.EqualTo(HolderErrorCode.HashMismatch));
        Assert.That(await client.HasAsync(_tiny.PeerId, id, ct), Is.False);
        Assert.That(_tiny.ArchiveHolder!.UsedBytes, Is.Zero, "the refused store's reservation is released");

        var stored = await client.StoreAsync(_tiny.PeerId, id, bytes, replace: false, ct);
        Assert.That(stored.Present, Is.True);
        Assert.That(await client.FetchAsync(_tiny.PeerId, id, 1 << 20, ct), Is.EqualTo(bytes));
        var again = await client.StoreAsync(_tiny.PeerId, id, bytes, replace: false, ct);
        Assert.That(again.Present, Is.True);
        Assert.That(_tiny.ArchiveHolder!.UsedBytes, Is.EqualTo(1000), "a second store of the same pack takes no more room");
    }

    [Test]
    [Order(2)]
    public async Task Only_admitted_mailbox_peers_may_store(CancellationToken ct)
    {
        var (id, bytes) = RandomObject(500, 3);
        foreach (var node in new[] { _stranger, _client })
        {
            var refused = Assert.ThrowsAsync<HolderException>(async () => await Client(node).StoreAsync(_tiny.PeerId, id, bytes, replace: false, ct))!;
            Assert.That(refused.Code, Is.EqualTo(HolderErrorCode.Unauthorized), node == _client ? "uncertified client" : "certified without mailbox");
        }
        // Reading is open: the uncertified client fetches what a pusher stored.
        var (stored, storedBytes) = RandomObject(700, 4);
        await Client(_pusher).StoreAsync(_tiny.PeerId, stored, storedBytes, replace: false, ct);
        Assert.That(await Client(_client).FetchAsync(_tiny.PeerId, stored, 1 << 20, ct), Is.EqualTo(storedBytes));
        Assert.That(await Client(_client).HasAsync(_tiny.PeerId, id, ct), Is.False);
    }

    [Test]
    [Order(3)]
    public async Task A_store_past_the_quota_is_refused_and_nothing_is_kept(CancellationToken ct)
    {
        var used = _tiny.ArchiveHolder!.UsedBytes;
        var (id, bytes) = RandomObject(4096, 5);
        var refused = Assert.ThrowsAsync<HolderException>(async () => await Client(_pusher).StoreAsync(_tiny.PeerId, id, bytes, replace: false, ct))!;
        Assert.That(refused.Code, Is.EqualTo(HolderErrorCode.QuotaExceeded));
        Assert.That(_tiny.ArchiveHolder!.UsedBytes, Is.EqualTo(used));
        Assert.That(await Client(_pusher).HasAsync(_tiny.PeerId, id, ct), Is.False);
        var (big, bigBytes) = RandomObject((1 << 20) + 1, 6);
        var tooLarge = Assert.ThrowsAsync<HolderException>(async () => await Client(_pusher).StoreAsync(_tiny.PeerId, big, bigBytes, replace: false, ct))!;
        Assert.That(tooLarge.Code, Is.EqualTo(HolderErrorCode.TooLarge));
    }

    [Test]
    [Order(4)]
    public async Task A_malformed_request_resets_only_its_stream(CancellationToken ct)
    {
        var host = _pusher.Host!;
        var stream = await host.NewStreamAsync(_tiny.PeerId, [ArchiveHolderProtocol.ProtocolId], ct);
        await using (stream)
        {
            // A frame that is not a HolderRequest (field 1 with a wire type protobuf rejects).
            await LengthPrefixed.WriteAsync(stream.Output, new byte[] { 0x0f, 0xff, 0xff }, ct);
            Assert.That(async () =>
            {
                while (true)
                {
                    var read = await stream.Input.ReadAsync(ct);
                    stream.Input.AdvanceTo(read.Buffer.End);
                    if (read.IsCompleted) return;
                }
            }, Throws.InstanceOf<StreamResetException>());
        }
        var (id, bytes) = RandomObject(300, 7);
        await Client(_pusher).StoreAsync(_tiny.PeerId, id, bytes, replace: false, ct);
        Assert.That(await Client(_pusher).HasAsync(_tiny.PeerId, id, ct), Is.True, "the connection and the holder serve on");
    }

    [Test]
    [Order(5)]
    public async Task Streams_and_concurrent_stores_are_bounded(CancellationToken ct)
    {
        var host = _pusher.Host!;
        var holder = _tiny.ArchiveHolder!;
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        holder.SessionOpened = n => { if (n == 3) reached.TrySetResult(); };
        var held = new List<IP2PStream>();
        try
        {
            // Session 1 begins a store and stops after "ready": it holds the only store slot.
            var (slow, _) = RandomObject(200, 8);
            var storing = await host.NewStreamAsync(_tiny.PeerId, [ArchiveHolderProtocol.ProtocolId], ct);
            held.Add(storing);
            await LengthPrefixed.WriteAsync(storing.Output,
                new Protos.Holder.HolderRequest { Store = new Protos.Holder.StoreRequest { Object = slow.ToString(), Size = 200 } }.ToByteArray(), ct);
            var ready = Protos.Holder.HolderResponse.Parser.ParseFrom(await LengthPrefixed.ReadAsync(storing.Input, 1 << 16, ct));
            Assert.That(ready.Code, Is.Zero);
            var (other, otherBytes) = RandomObject(200, 9);
            var busy = Assert.ThrowsAsync<HolderException>(async () => await Client(_pusher).StoreAsync(_tiny.PeerId, other, otherBytes, replace: false, ct))!;
            Assert.That(busy.Code, Is.EqualTo(HolderErrorCode.Busy), "one store at a time");

            // Sessions 2 and 3 say nothing; a fourth stream is refused as busy.
            for (var i = 0; i < 2; i++) held.Add(await host.NewStreamAsync(_tiny.PeerId, [ArchiveHolderProtocol.ProtocolId], ct));
            await reached.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
            var fourth = Assert.ThrowsAsync<HolderException>(async () => await Client(_pusher).HasAsync(_tiny.PeerId, other, ct))!;
            Assert.That(fourth.Code, Is.EqualTo(HolderErrorCode.Busy), "three streams at most");
        }
        finally
        {
            holder.SessionOpened = null;
            foreach (var stream in held)
            {
                stream.Reset();
                await stream.DisposeAsync();
            }
        }
        Assert.That(holder.UsedBytes, Is.LessThanOrEqualTo(holder.Options.QuotaBytes));
    }

    [Test]
    [Order(6)]
    public async Task Pushed_packs_sit_on_three_holders_of_distinct_providers_and_restore_without_one_of_them(CancellationToken ct)
    {
        var random = new Random(15);
        var boxes = ReplicaStore.MakeBoxes(random, 2);
        var store = _pusher.MailboxServer!.Store;
        await ReplicaStore.PushAsync(store, boxes, random, 30, 200, 2000);
        await _pusher.ArchivePusher!.RunOnceAsync(flush: true, ct);
        var stored = await ReplicaStore.ReadAllAsync(store);
        foreach (var (mailbox, blobs) in stored)
            Assert.That(_pusher.ArchiveStatus!.ArchivedUpTo[mailbox], Is.EqualTo(blobs[^1].Cursor), "archived_up_to follows R confirmed holders");

        var where = new Dictionary<ArchiveObjectId, List<string>>();
        var packsPerHolder = new int[_holders.Count];
        for (var i = 0; i < _holders.Count; i++)
        {
            await foreach (var pack in _holders[i].ArchiveHolder!.Store.ListAsync(ArchiveObjectKind.Pack, ct))
            {
                (where.TryGetValue(pack, out var list) ? list : where[pack] = []).Add(Providers[i]);
                packsPerHolder[i]++;
            }
        }
        Assert.That(where, Has.Count.EqualTo(_pusher.ArchiveStatus!.Packs).And.Count.GreaterThanOrEqualTo(2));
        foreach (var (pack, providers) in where)
            Assert.That(providers, Has.Count.EqualTo(3).And.Unique, $"{pack} is on 3 holders of distinct providers");

        // One holder leaves; every blob still comes back, bit-identical, through GET_PROVIDERS.
        var gone = Array.IndexOf(packsPerHolder, packsPerHolder.Max());
        Assert.That(packsPerHolder[gone], Is.GreaterThan(0));
        await _holders[gone].DisposeAsync();
        _nodes.Remove(_holders[gone]);
        await using var sink = _client.OpenPeersArchiveSink();
        ArchiveCheck.AssertExactlyOnce(stored, await ArchiveCheck.RestoreAllAsync([sink], boxes));
        // Verify lists every holder found: the pusher's packs plus the objects the earlier tests stored on the tiny holder.
        var earlier = 0;
        await foreach (var _ in _tiny.ArchiveHolder!.Store.ListAsync(ArchiveObjectKind.Pack, ct)) earlier++;
        var report = await KontinuumP2P.Archive.Restore.ArchiveVerifier.VerifyAsync(sink, 100, 0, null, ct);
        Assert.That(report.Packs, Is.EqualTo(where.Count + earlier));
        Assert.That(report.Verified, Is.EqualTo(report.Packs));

        // Only prov-a's holders and the tiny (full) holder left: fewer than 3 providers can confirm, so nothing advances.
        for (var i = 0; i < _holders.Count; i++)
        {
            if (i == gone || Providers[i] == "prov-a") continue;
            await _holders[i].DisposeAsync();
            _nodes.Remove(_holders[i]);
        }
        var before = new Dictionary<string, ulong>(_pusher.ArchiveStatus!.ArchivedUpTo);
        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pusher.ArchivePusher!.MailboxFailed += (_, e) => failed.TrySetResult(e);
        await ReplicaStore.PushAsync(store, boxes, random, 20, 200, 2000);
        await _pusher.ArchivePusher!.RunOnceAsync(flush: true, ct);
        var failure = await failed.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
        Assert.That(failure.Message, Does.Contain("of the 3 archive holders of distinct providers required"));
        Assert.That(_pusher.ArchiveStatus!.ArchivedUpTo, Is.EquivalentTo(before), "archived_up_to waits for 3 providers");
        Assert.That(report.Corrupt, Is.Empty);
    }
}
