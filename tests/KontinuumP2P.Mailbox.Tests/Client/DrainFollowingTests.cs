using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq;
using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Mailbox.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using HqRole = KontinuumP2P.Hq.Allocation.MailboxRole;

namespace KontinuumP2P.Mailbox.Tests.Client;

/// <summary>
/// A drain end to end on real servers (TCP 127.0.0.1, SQLite): servers a, b, c serve a group's slots, d is a spare.
/// HQ drains mbx-a (re-pointed to d with a new record); the old node sends signed drain reports to HQ over the health
/// protocol. The client sees the new record, re-seeds d from the survivors, empties and closes its mailbox on a; a's
/// next report shows no mailbox left and HQ's decommission, refused until then with the reason, goes ahead.
/// HQ's clock is fake (the settle time after the move); the servers and the client run on the real clock.
/// </summary>
[NonParallelizable]
public sealed class DrainFollowingTests
{
    private static readonly GroupHealthOptions Fast = new()
    {
        Interval = TimeSpan.FromMilliseconds(200),
        FirstReportInterval = TimeSpan.FromSeconds(1),
        MaxReportInterval = TimeSpan.FromSeconds(2),
        ReseedBlobsPerSecond = 2000,
        SlotRefreshInterval = TimeSpan.Zero,
    };

    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "kp-drain-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Replica_drain_moves_the_group_closes_the_old_mailbox_and_then_decommission_goes_ahead(CancellationToken ct)
    {
        await using var fleet = await MailboxFleet.StartAsync(4);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var hqKey = Ed25519Identity.Generate();
        var hqCert = fleet.Issue(hqKey, ["dht", SlotRecord.HqCapability], "hq");
        using var hq = new HqService(Path.Combine(_dir, "hq"), hqKey, hqCert, new EscalationOptions(), time);
        var resolver = new SlotRecordResolver(fleet);
        for (var i = 0; i < 3; i++)
            resolver.Publish(hq.RegisterSlot("test", fleet.Servers[i].Slot, fleet.Servers[i].PeerId, $"provider-{i}", "local", HqRole.Replica, 100));
        var old = fleet.Servers[0];
        var spare = fleet.Servers[3];
        hq.Registry.AddSpare("test", new SpareEntry(spare.PeerId.ToString(), "provider-0", "local", _dir, null));

        // HQ's end of the health protocol, and the old node's drain reports to it.
        await using var hqHost = new KontinuumP2P.Net.Hosting.PeerHost(new KontinuumP2P.Net.Hosting.PeerHostOptions
        {
            Identity = hqKey,
            Transports = [new KontinuumP2P.Net.Transports.TcpTransport()],
            ListenAddresses = [KontinuumP2P.Core.Addressing.Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
        });
        await hqHost.StartAsync(ct);
        await using var hqHealth = new HealthService(hqHost, new HealthServiceOptions(), new NoDevices(), hqKey, hqCert, sink: null,
            new HqAlertReceiver(hq, () => fleet.Anchors, null));
        hqHealth.Start();
        old.Host!.PeerStore.AddAddresses(hqHost.PeerId, hqHost.ListenAddresses, TimeSpan.FromHours(1));
        using var census = new StoreRegisteredDevices(new MailboxStoreOptions { DatabasePath = old.Database });
        var reports = new ReportTap(new HealthService.PeerAlertSink(old.Host, hqHost.PeerId, old.Identity, TimeSpan.FromSeconds(5)), hq);
        await using var oldHealth = new HealthService(old.Host, new HealthServiceOptions { Tick = TimeSpan.FromMilliseconds(50), DrainReportInterval = TimeSpan.FromMilliseconds(100) },
            census, old.Identity, old.Certificate, reports, receiver: null);
        oldHealth.Start();

        using var secret = GroupSecret.Generate();
        var store = GroupStore.Create(Path.Combine(_dir, "group"), secret, "test", ["mbx-a", "mbx-b", "mbx-c"], 1);
        try
        {
            await using var client = new GroupClient(store, await fleet.ClientHostAsync(), resolver, fleet.Verifier, MailboxFleet.FastOptions with { RequiredAcks = 3 });
            var schedule = new ReportSchedule(Fast.FirstReportInterval, Fast.MaxReportInterval);
            for (var i = 0; i < 6; i++) await client.PushAsync(System.Text.Encoding.UTF8.GetBytes($"before-{i}"), ct);
            Assert.That((await client.FlushAsync(all: true, ct)).Remaining, Is.Zero);
            Assert.That((await client.HealthRoundAsync(Fast, schedule, ct)).Unreachable, Is.Zero);

            var drain = hq.DrainSlot("operator", "mbx-a", TimeSpan.FromDays(7));
            Assert.That((drain.OldNode, drain.NewNode), Is.EqualTo((old.PeerId.ToString(), spare.PeerId.ToString())));
            var notYet = Assert.Throws<DrainNotReadyException>(() => hq.Decommission("operator", "mbx-a", force: false))!;
            Assert.That(notYet.Message, Does.Contain("not drained"));
            // What HQ's node does on its tick: the spare is running already here; publish the new record.
            var (delivered, record) = hq.UndeliveredDrains().Single();
            Assert.That((record.NodeId, record.Sequence), Is.EqualTo((spare.PeerId, 2UL)));
            resolver.Publish(record);
            hq.Registry.DrainDelivered(delivered.Slot, delivered.OldNode);

            // Past the settle time the old node still holds the group's mailbox with its blobs: refused, with why.
            time.Advance(HqService.DefaultDrainSettle);
            var before = await FreshReportAsync(reports, time, ct);
            Assert.That((before.OpenMailboxes, before.MailboxesWithBlobs), Is.EqualTo((1, 1)));
            notYet = Assert.Throws<DrainNotReadyException>(() => hq.Decommission("operator", "mbx-a", force: false))!;
            Assert.That(notYet.Message, Does.Contain("still holds 1 mailbox(es) with blobs"));
            Assert.That(hq.Status().Drains.Single().WaitingFor, Does.Contain("still holds 1"));

            // Written while the client still uses the old node: the new node must get these too.
            for (var i = 0; i < 2; i++) await client.PushAsync(System.Text.Encoding.UTF8.GetBytes($"during-{i}"), ct);
            Assert.That((await client.FlushAsync(all: true, ct)).Remaining, Is.Zero);

            // The client follows the record, re-seeds the new node, then empties and closes its mailbox on the old one.
            var moved = await client.HealthRoundAsync(Fast, schedule, ct);
            Assert.That((moved.Unreachable, moved.NewReseeds), Is.EqualTo((0, 1)));
            Assert.That(await client.ReseedAsync(Fast, ct), Is.EqualTo(8), "every blob, from the survivors");
            var retire = await client.RetireMovedMailboxesAsync(Fast, ct);
            Assert.That((retire.Closed, retire.Copied, retire.Pending), Is.EqualTo((1, 0L, 0)));
            var survivorIds = BlobIds(fleet.Servers[1].Database);
            Assert.That(survivorIds, Has.Count.EqualTo(8));
            Assert.That(BlobIds(spare.Database), Is.EquivalentTo(survivorIds), "the new node holds every blob id");
            Assert.That(census.CountMailboxes(), Is.EqualTo((0, 0)), "closed on the old node");

            var after = await FreshReportAsync(reports, time, ct);
            Assert.That((after.OpenMailboxes, after.MailboxesWithBlobs), Is.EqualTo((0, 0)));
            Assert.That(hq.DrainProgressOf("mbx-a")!.CanDecommission(time.GetUtcNow()), Is.EqualTo((true, "all groups caught up")));
            var done = hq.Decommission("operator", "mbx-a", force: false);
            Assert.That(done.OldNode, Is.EqualTo(old.PeerId.ToString()));
            Assert.That(hq.Registry.OpenDrains(), Is.Empty);
            Assert.That(hq.Audit.Tail(20).Select(e => e.Action), Does.Contain("slot.drain").And.Contain("slot.decommission"));

            // A push after the move is acknowledged by a, b and c's nodes now d, b, c.
            await client.PushAsync("after"u8.ToArray(), ct);
            Assert.That((await client.FlushAsync(all: true, ct)).Remaining, Is.Zero);
            Assert.That(BlobIds(spare.Database), Has.Count.EqualTo(9));
        }
        finally
        {
            store.Dispose();
        }
    }

    [Test]
    public void Moved_away_mailboxes_to_close_are_bounded_and_the_oldest_generations_go_first()
    {
        using var secret = GroupSecret.Generate();
        using var store = GroupStore.Create(Path.Combine(_dir, "bound"), secret, "test", ["a", "b", "c"], 1);
        // A slot moving again and again (or HQ flapping records) must not grow the device's file without bound.
        for (var generation = 1; generation <= 40; generation++)
        {
            foreach (var slot in new[] { "a", "b", "c" })
            {
                Assert.That(store.ObservePeer(generation, slot, "node-1"), Is.Null, "first sight: nothing moved");
                Assert.That(store.ObservePeer(generation, slot, "node-2"), Is.Not.Null);
            }
        }
        var rows = store.RetireRows();
        Assert.That(rows, Has.Count.EqualTo(GroupStore.MaxRetireRows));
        Assert.That(rows.Min(r => r.Generation), Is.EqualTo(40 - GroupStore.MaxRetireRows / 3 + 1));
        Assert.That(rows.All(r => r.Peer == "node-1"), Is.True, "each row names the node the slot left");
    }

    /// <summary>The next report HQ stored that the node counted after this call (HQ's clock moves 1 s per try: one stored report a second).</summary>
    private static async Task<DrainReport> FreshReportAsync(ReportTap reports, FakeTimeProvider time, CancellationToken ct)
    {
        var notBefore = DateTimeOffset.UtcNow.AddMilliseconds(-1);
        while (true)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            var report = await reports.NextStoredAsync(ct);
            if (report.At >= notBefore) return report;
        }
    }

    private static HashSet<string> BlobIds(string database)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT blob_id FROM blobs";
        using var r = cmd.ExecuteReader();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (r.Read()) ids.Add(Convert.ToHexString((byte[])r[0]));
        return ids;
    }

    private sealed class NoDevices : IRegisteredDevices
    {
        public ValueTask<bool> IsRegisteredAsync(ReadOnlyMemory<byte> mailboxId, ReadOnlyMemory<byte> capability, ReadOnlyMemory<byte> deviceId, CancellationToken ct) =>
            ValueTask.FromResult(false);
    }

    /// <summary>Passes the old node's reports to HQ and lets the test wait for the next one HQ stored.</summary>
    private sealed class ReportTap(HealthService.PeerAlertSink inner, HqService hq) : IHealthAlertSink, IDrainReportSink
    {
        private readonly Lock _lock = new();
        private TaskCompletionSource<DrainReport>? _next;
        private long _storedBefore;

        public Task SendAsync(HealthAlert alert, CancellationToken ct) => inner.SendAsync(alert, ct);

        public async Task SendAsync(DrainReport report, CancellationToken ct)
        {
            await inner.SendAsync(report, ct);
            lock (_lock)
            {
                if (_next is not null && hq.DrainReportsStored > _storedBefore) _next.TrySetResult(report);
            }
        }

        public Task<DrainReport> NextStoredAsync(CancellationToken ct)
        {
            lock (_lock)
            {
                _storedBefore = hq.DrainReportsStored;
                _next = new TaskCompletionSource<DrainReport>(TaskCreationOptions.RunContinuationsAsynchronously);
                return _next.Task.WaitAsync(ct);
            }
        }
    }
}
