using System.Text;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Storage;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Storage;

/// <summary>
/// Attacks on the store bounds, run against both stores: one peer filling the store, one namespace starving another,
/// provider floods, oversized address lists; and the per-namespace value size that lets a full CRL in.
/// </summary>
[TestFixture("sqlite")]
[TestFixture("memory")]
public sealed class StoreQuotaTests(string kind)
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
    private string _directory = "";

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("kp-dht-quota-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private async Task<IDhtStore> OpenAsync(DhtStoreLimits limits) => kind == "sqlite"
        ? await SqliteDhtStore.OpenAsync(Path.Combine(_directory, "dht.db"), limits)
        : new InMemoryDhtStore(limits);

    private static StoredRecord Record(string key, int size, PeerId? publisher, bool own = false) =>
        new(new DhtRecord(Encoding.UTF8.GetBytes(key), new byte[size], Now), Now.AddHours(48), own, publisher);

    [Test]
    public async Task One_peer_cannot_hold_more_than_its_record_quota_and_others_still_write()
    {
        var peers = TestPeers.Create(2, seed: 11);
        await using var store = await OpenAsync(new DhtStoreLimits { MaxRecordsPerPeer = 10, MaxRecordBytesPerPeer = 1_000 });
        var accepted = 0;
        for (var i = 0; i < 1_000; i++)
            if (await store.PutRecordAsync(Record($"/seq/junk-{i}", 10, peers[0]), CancellationToken.None)) accepted++;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(accepted, Is.EqualTo(10), "the attacker's writes stop at its quota");
            Assert.That(store.Counts.Records, Is.EqualTo(10));
            Assert.That(store.Counts.Refused, Is.EqualTo(990));
            Assert.That(await store.PutRecordAsync(Record("/seq/junk-3", 20, peers[0]), CancellationToken.None), Is.True,
                "replacing one of its own records does not count twice");
            Assert.That(await store.PutRecordAsync(Record("/seq/honest", 10, peers[1]), CancellationToken.None), Is.True);
            Assert.That(await store.PutRecordAsync(Record("/seq/ours", 10, null, own: true), CancellationToken.None), Is.True,
                "our own records are not any peer's");
        }
    }

    [Test]
    public async Task One_peer_cannot_hold_more_than_its_byte_quota()
    {
        var peer = TestPeers.Create(1, seed: 12)[0];
        await using var store = await OpenAsync(new DhtStoreLimits { MaxRecordBytesPerPeer = 10_000 });
        var accepted = 0;
        for (var i = 0; i < 20; i++)
            if (await store.PutRecordAsync(Record($"/seq/big-{i}", 4_000, peer), CancellationToken.None)) accepted++;
        Assert.That(accepted, Is.EqualTo(2));
    }

    [Test]
    public async Task A_full_namespace_does_not_block_another_and_expiry_frees_room()
    {
        var peers = TestPeers.Create(100, seed: 13);
        await using var store = await OpenAsync(new DhtStoreLimits { MaxRecords = 100, MaxRecordsPerNamespace = 50 });
        // 100 identities, one record each, all in /junk/: the namespace fills at 50.
        var junk = 0;
        for (var i = 0; i < 100; i++)
            if (await store.PutRecordAsync(Record($"/junk/{i}", 8, peers[i]), CancellationToken.None)) junk++;
        var node = await store.PutRecordAsync(Record("/node/a", 8, peers[0]), CancellationToken.None);
        var crl = await store.PutRecordAsync(Record("/crl/a", 8, peers[1]), CancellationToken.None);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(junk, Is.EqualTo(50));
            Assert.That(node && crl, Is.True, "other namespaces still accept writes");
        }
        await store.RemoveExpiredAsync(Now.AddHours(49), CancellationToken.None);
        Assert.That(await store.PutRecordAsync(Record("/junk/again", 8, peers[2]), CancellationToken.None), Is.True);
    }

    [Test]
    public async Task A_namespace_may_allow_larger_values_than_the_default()
    {
        var peer = TestPeers.Create(1, seed: 14)[0];
        var limits = new DhtStoreLimits
        {
            MaxValueSizeByNamespace = new Dictionary<string, int> { ["crl"] = 1_100_000 },
            MaxRecordBytesPerPeer = 2_000_000,
        };
        await using var store = await OpenAsync(limits);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(await store.PutRecordAsync(Record("/crl/big", 1_048_576, peer), CancellationToken.None), Is.True);
            Assert.That(await store.PutRecordAsync(Record("/node/big", 1_048_576, peer), CancellationToken.None), Is.False);
            Assert.That((await store.GetRecordAsync("/crl/big"u8.ToArray(), Now, CancellationToken.None))!.Record.Value.Length, Is.EqualTo(1_048_576));
        }
    }

    [Test]
    public async Task Provider_floods_stop_at_the_per_peer_quota_and_huge_address_lists_are_refused()
    {
        var peers = TestPeers.Create(2, seed: 15);
        await using var store = await OpenAsync(new DhtStoreLimits { MaxProvidersPerPeer = 5, MaxProviderAddressBytes = 256 });
        var address = Multiaddr.Parse("/ip4/192.0.2.1/tcp/4001");
        var accepted = 0;
        for (var i = 0; i < 100; i++)
            if (await store.AddProviderAsync(new[] { (byte)i }, new ProviderRecord(peers[0], [address], Now.AddHours(48)), CancellationToken.None)) accepted++;
        var many = Enumerable.Range(0, 100).Select(i => Multiaddr.Parse($"/ip4/192.0.2.{i}/tcp/4001")).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(accepted, Is.EqualTo(5));
            Assert.That(store.Counts.Providers, Is.EqualTo(5));
            Assert.That(await store.AddProviderAsync(new byte[] { 1 }, new ProviderRecord(peers[0], [address], Now.AddHours(49)), CancellationToken.None),
                Is.True, "refreshing an announcement it holds is not a new one");
            Assert.That(await store.AddProviderAsync(new byte[] { 200 }, new ProviderRecord(peers[1], many, Now.AddHours(48)), CancellationToken.None),
                Is.False, "100 addresses exceed the address bytes of one provider record");
            Assert.That(await store.AddProviderAsync(new byte[] { 200 }, new ProviderRecord(peers[1], [address], Now.AddHours(48)), CancellationToken.None),
                Is.True, "another peer is unaffected");
        }
        await store.RemoveExpiredAsync(Now.AddHours(50), CancellationToken.None);
        Assert.That(await store.AddProviderAsync(new byte[] { 201 }, new ProviderRecord(peers[0], [address], Now.AddHours(60)), CancellationToken.None), Is.True,
            "expiry gives the quota back");
    }
}
