using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Restore;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Tests.Restore;

public sealed class VerifyRepairTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-verify-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task A_flipped_byte_in_a_stored_pack_is_found_by_verify_and_repaired_from_the_replica()
    {
        var random = new Random(5);
        var boxes = ReplicaStore.MakeBoxes(random, 2);
        await using var store = await ReplicaStore.OpenAsync(Path.Combine(_dir, "store.db"));
        using var state = new PusherStateStore(Path.Combine(_dir, "state.db"));
        await using var sink = new DirectorySink(Path.Combine(_dir, "sink"));
        var source = new MailboxStoreArchiveSource(store);
        await ReplicaStore.PushAsync(store, boxes, random, 60, 200, 3000);
        using (var pusher = new ArchivePusher(source, [sink], state, new ArchivePusherOptions { TargetPackBytes = 16 * 1024 }, TimeProvider.System))
            await pusher.RunOnceAsync(flush: true, CancellationToken.None);
        var packs = state.Packs();
        Assert.That(packs, Has.Count.GreaterThan(4));
        var expected = packs.Select(p => ArchiveObjectId.Parse(p.PackId)).ToList();

        var clean = await ArchiveVerifier.VerifyAsync(sink, 100, 0, expected, CancellationToken.None);
        Assert.That((clean.Packs, clean.Verified, clean.Missing.Count, clean.Corrupt.Count), Is.EqualTo((packs.Count, packs.Count, 0, 0)));

        var victim = expected[2];
        var path = sink.PathOf(victim);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[bytes.Length / 3] ^= 0x40;
        await File.WriteAllBytesAsync(path, bytes);
        var gone = expected[4];
        File.Delete(sink.PathOf(gone));

        var found = await ArchiveVerifier.VerifyAsync(sink, 100, 0, expected, CancellationToken.None);
        Assert.That(found.Corrupt, Is.EqualTo(new[] { victim }));
        Assert.That(found.Missing, Is.EqualTo(new[] { gone }));
        Assert.That(found.Verified, Is.EqualTo(packs.Count - 2));

        var repaired = await ArchiveRepairer.RepairAsync(sink, source, state, [.. found.Corrupt, .. found.Missing], CancellationToken.None);
        Assert.That(repaired, Is.EqualTo(2));
        var after = await ArchiveVerifier.VerifyAsync(sink, 100, 0, expected, CancellationToken.None);
        Assert.That((after.Verified, after.Missing.Count, after.Corrupt.Count), Is.EqualTo((packs.Count, 0, 0)));
        ArchiveCheck.AssertExactlyOnce(await ReplicaStore.ReadAllAsync(store), await ArchiveCheck.RestoreAllAsync([sink], boxes));
    }

    [Test]
    public void Rotating_samples_cover_every_pack_in_100_over_P_rounds_and_do_not_overlap()
    {
        var ids = Enumerable.Range(0, 2000).Select(i => ArchiveObjectId.Pack(TestBlobs.Id(BitConverter.GetBytes(i)))).ToList();
        foreach (var percent in new[] { 10, 25, 50 })
        {
            var seen = new Dictionary<ArchiveObjectId, int>();
            for (var round = 0; round < 100 / percent; round++)
            {
                var sample = ids.Where(id => ArchiveVerifier.InSample(id, percent, round)).ToList();
                Assert.That(sample.Count, Is.InRange(ids.Count * percent / 100 * 0.7, ids.Count * percent / 100 * 1.3), $"{percent}% round {round}");
                foreach (var id in sample) seen[id] = seen.GetValueOrDefault(id) + 1;
            }
            Assert.That(seen.Count, Is.EqualTo(ids.Count), $"{percent}%: every pack in {100 / percent} rounds");
            Assert.That(seen.Values.All(v => v == 1), Is.True, $"{percent}%: no pack twice");
        }
        Assert.That(ids.All(id => ArchiveVerifier.InSample(id, 100, 7)), Is.True);
    }
}
