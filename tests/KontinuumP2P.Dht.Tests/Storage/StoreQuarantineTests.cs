using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Storage;
using KontinuumP2P.Dht.Tests.Fakes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Dht.Tests.Storage;

/// <summary>A corrupt store file is moved aside and a fresh store starts; a damaged snapshot row is skipped.</summary>
public sealed class StoreQuarantineTests
{
    private string _directory = "";

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("kp-dht-corrupt-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task A_file_that_is_not_a_database_is_quarantined_and_a_fresh_store_opens()
    {
        var path = Path.Combine(_directory, "dht.db");
        await File.WriteAllBytesAsync(path, Enumerable.Repeat((byte)0x5A, 8192).ToArray());
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 18, 0, 0, TimeSpan.Zero));

        var (store, quarantined) = await SqliteDhtStore.OpenOrQuarantineAsync(path, null, time, CancellationToken.None);
        await using (store)
        {
            var now = time.GetUtcNow();
            var stored = await store.PutRecordAsync(new StoredRecord(new DhtRecord("/seq/a"u8.ToArray(), new byte[4], now), now.AddHours(1), false), CancellationToken.None);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(quarantined, Is.EqualTo(path + ".corrupt-20261204T180000Z"));
                Assert.That(File.ReadAllBytes(quarantined!), Has.Length.EqualTo(8192), "the damaged file is kept for inspection");
                Assert.That(stored, Is.True, "the fresh store works");
            }
        }
    }

    [Test]
    public async Task A_sound_store_is_opened_as_it_is_and_a_damaged_snapshot_row_is_skipped()
    {
        var path = Path.Combine(_directory, "dht.db");
        var peers = TestPeers.Create(2, seed: 21);
        var now = DateTimeOffset.UtcNow;
        await using (var first = await SqliteDhtStore.OpenAsync(path))
            await first.SaveRoutingSnapshotAsync([new RoutingTableEntry(peers[0], [Multiaddr.Parse("/ip4/192.0.2.1/tcp/1")], now),
                new RoutingTableEntry(peers[1], [], now)], CancellationToken.None);
        await using (var raw = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await raw.OpenAsync();
            await using var command = raw.CreateCommand();
            command.CommandText = "UPDATE routing SET peer = X'00FF' WHERE peer = $peer";
            command.Parameters.AddWithValue("$peer", peers[1].ToByteArray());
            await command.ExecuteNonQueryAsync();
        }

        var (store, quarantined) = await SqliteDhtStore.OpenOrQuarantineAsync(path, null, TimeProvider.System, CancellationToken.None);
        await using (store)
        {
            var snapshot = await store.LoadRoutingSnapshotAsync(CancellationToken.None);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(quarantined, Is.Null);
                Assert.That(snapshot.Select(e => e.PeerId), Is.EqualTo(new[] { peers[0] }));
            }
        }
    }
}
