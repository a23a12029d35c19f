using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Storage;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Storage;

public sealed class SqliteDhtStoreTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
    private string _directory = "";

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("kp-dht-store-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private string DbPath => Path.Combine(_directory, "dht.db");

    [Test]
    public async Task Records_providers_and_snapshot_survive_a_reopen_in_wal_mode()
    {
        var peers = TestPeers.Create(3, seed: 1);
        var address = Multiaddr.Parse("/ip4/192.0.2.1/tcp/4001");
        await using (var store = await SqliteDhtStore.OpenAsync(DbPath))
        {
            Assert.That(await store.GetJournalModeAsync(CancellationToken.None), Is.EqualTo("wal"));
            await store.PutRecordAsync(new StoredRecord(new DhtRecord("/pk/a"u8.ToArray(), new byte[] { 1 }, Now), Now.AddHours(48), IsOwn: true), CancellationToken.None);
            await store.AddProviderAsync(new byte[] { 9 }, new ProviderRecord(peers[0], [address], Now.AddHours(48)), CancellationToken.None);
            await store.SaveRoutingSnapshotAsync([new RoutingTableEntry(peers[1], [address], Now), new RoutingTableEntry(peers[2], [], Now.AddMinutes(1))], CancellationToken.None);
        }
        await using (var store = await SqliteDhtStore.OpenAsync(DbPath))
        {
            var record = await store.GetRecordAsync("/pk/a"u8.ToArray(), Now, CancellationToken.None);
            Assert.That(record!.Record.Value.ToArray(), Is.EqualTo(new byte[] { 1 }));
            Assert.That(record.IsOwn, Is.True);
            Assert.That((await store.GetOwnRecordsAsync(CancellationToken.None)).Count, Is.EqualTo(1));
            var providers = await store.GetProvidersAsync(new byte[] { 9 }, Now, 10, CancellationToken.None);
            Assert.That(providers.Single().Provider, Is.EqualTo(peers[0]));
            Assert.That(providers.Single().Addresses, Is.EqualTo(new[] { address }));
            Assert.That((await store.GetProvidedKeysAsync(peers[0], CancellationToken.None)).Single().ToArray(), Is.EqualTo(new byte[] { 9 }));
            var snapshot = await store.LoadRoutingSnapshotAsync(CancellationToken.None);
            Assert.That(snapshot.Select(e => e.PeerId), Is.EquivalentTo(new[] { peers[1], peers[2] }));
            Assert.That(store.Counts, Is.EqualTo(new DhtStoreCounts(1, 1, 0)));
        }
    }

    [Test]
    public async Task Expired_entries_go_but_our_own_records_stay()
    {
        var peer = TestPeers.Create(1, seed: 2)[0];
        await using var store = await SqliteDhtStore.OpenAsync(DbPath);
        await store.PutRecordAsync(new StoredRecord(new DhtRecord("/pk/theirs"u8.ToArray(), new byte[] { 1 }, Now), Now.AddHours(48), false), CancellationToken.None);
        await store.PutRecordAsync(new StoredRecord(new DhtRecord("/pk/ours"u8.ToArray(), new byte[] { 2 }, Now), Now.AddHours(48), true), CancellationToken.None);
        await store.AddProviderAsync(new byte[] { 1 }, new ProviderRecord(peer, [], Now.AddHours(48)), CancellationToken.None);

        var later = Now.AddHours(49);
        Assert.That(await store.GetRecordAsync("/pk/theirs"u8.ToArray(), later, CancellationToken.None), Is.Null, "expired records are not served");
        Assert.That(await store.RemoveExpiredAsync(later, CancellationToken.None), Is.EqualTo(2));
        Assert.That(await store.GetRecordAsync("/pk/ours"u8.ToArray(), later, CancellationToken.None), Is.Not.Null);
        Assert.That(store.Counts, Is.EqualTo(new DhtStoreCounts(1, 0, 0)));
    }

    [Test]
    public async Task Bounds_refuse_new_entries_and_count_the_refusals()
    {
        var peers = TestPeers.Create(4, seed: 3);
        var limits = new DhtStoreLimits { MaxRecords = 2, MaxProvidersPerKey = 2, MaxValueSize = 8 };
        await using var store = await SqliteDhtStore.OpenAsync(DbPath, limits);
        for (var i = 0; i < 3; i++)
        {
            var stored = await store.PutRecordAsync(new StoredRecord(new DhtRecord(new[] { (byte)'/', (byte)'x', (byte)'/', (byte)i }, new byte[] { 1 }, Now), Now.AddHours(1), false), CancellationToken.None);
            Assert.That(stored, Is.EqualTo(i < 2));
        }
        Assert.That(await store.PutRecordAsync(new StoredRecord(new DhtRecord("/x/0"u8.ToArray(), new byte[9], Now), Now.AddHours(1), false), CancellationToken.None), Is.False, "value too large");
        for (var i = 0; i < 4; i++)
        {
            await store.AddProviderAsync(new byte[] { 5 }, new ProviderRecord(peers[i], [], Now.AddHours(1 + i)), CancellationToken.None);
        }
        var providers = await store.GetProvidersAsync(new byte[] { 5 }, Now, 10, CancellationToken.None);
        Assert.That(providers.Select(p => p.Provider), Is.EqualTo(new[] { peers[3], peers[2] }), "the freshest two are kept");
        Assert.That(store.Counts, Is.EqualTo(new DhtStoreCounts(2, 2, 2)));
    }
}
