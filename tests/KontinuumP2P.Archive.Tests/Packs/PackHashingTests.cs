using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Packs;

namespace KontinuumP2P.Archive.Tests.Packs;

/// <summary>The pack id hashed while the pack fills, and the blob check spread over the cores.</summary>
public sealed class PackHashingTests
{
    // Several MiB of odd-sized blobs, so the 1 MiB hash slices fall inside blobs and the buffer grows under them.
    private static (ArchiveKeys Keys, Pack Pack, List<KontinuumP2P.Archive.Pushing.ArchiveBlob> Blobs) BuildLarge(int seed, int initialCapacity)
    {
        var random = new Random(seed);
        var keys = ArchiveKeys.Derive(TestBlobs.Key(random));
        var blobs = TestBlobs.Make(random, 60, 1, 200_000, firstCursor: 7);
        var builder = new PackBuilder(keys, initialCapacity);
        foreach (var b in blobs) builder.Add(b.BlobId.Span, b.Cursor, b.Data.Span);
        return (keys, builder.Build(), blobs);
    }

    [TestCase(1024)]
    [TestCase(1 << 20)]
    public void The_id_hashed_while_building_is_the_BLAKE3_of_the_finished_pack(int initialCapacity)
    {
        var (_, pack, _) = BuildLarge(11, initialCapacity);
        Assert.That(pack.Bytes, Has.Length.GreaterThan(3 << 20));
        Assert.That(pack.Id.Digest.ToArray(), Is.EqualTo(TestBlobs.Id(pack.Bytes)), "one-shot BLAKE3 of the bytes");
    }

    [Test]
    public void An_exactly_sized_builder_gives_the_same_pack_as_a_growing_one()
    {
        var (_, grown, blobs) = BuildLarge(12, 1024);
        var random = new Random(12);
        var keys = ArchiveKeys.Derive(TestBlobs.Key(random));
        var exact = new PackBuilder(keys, (int)PackBuilder.ExactSize(blobs.Select(b => b.Data.Length)));
        foreach (var b in blobs) exact.Add(b.BlobId.Span, b.Cursor, b.Data.Span);
        var pack = exact.Build();
        Assert.That(pack.Bytes, Is.EqualTo(grown.Bytes));
        Assert.That(pack.Id, Is.EqualTo(grown.Id));
    }

    [Test]
    public void A_built_pack_takes_no_more_blobs_and_is_not_built_twice()
    {
        var (keys, _, blobs) = BuildLarge(13, 1024);
        var builder = new PackBuilder(keys);
        builder.Add(blobs[0].BlobId.Span, blobs[0].Cursor, blobs[0].Data.Span);
        builder.Build();
        Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.Throws<InvalidOperationException>(() => builder.Add(blobs[1].BlobId.Span, blobs[1].Cursor, blobs[1].Data.Span));
    }

    [Test]
    public void Large_inputs_hash_on_all_cores_to_the_same_digest()
    {
        var data = new byte[(3 << 20) + 12345];
        new Random(14).NextBytes(data);
        var digest = new byte[32];
        Hashing.Blake3(data, digest);
        Assert.That(digest, Is.EqualTo(TestBlobs.Id(data)));
        Assert.That(Hashing.Blake3Matches(data, digest), Is.True);
        data[^1] ^= 1;
        Assert.That(Hashing.Blake3Matches(data, digest), Is.False);
    }

    [Test]
    public void The_parallel_blob_check_names_the_first_bad_blob_in_cursor_order()
    {
        var (keys, pack, _) = BuildLarge(15, 1024);
        var entries = PackReader.OpenBlobsIn(pack.Bytes, keys);
        Assert.That(entries, Has.Count.EqualTo(60));
        var bytes = pack.Bytes.ToArray();
        // Two bad blobs; whichever thread finds the later one first, the error names the earlier.
        foreach (var i in new[] { 45, 9 })
        {
            var e = entries[i];
            Assert.That(e.Length, Is.GreaterThan(0));
            bytes[e.Offset + e.Length / 2] ^= 0x40;
        }
        for (var round = 0; round < 20; round++)
        {
            var error = Assert.Throws<PackFormatException>(() => PackReader.OpenBlobsIn(bytes, keys));
            Assert.That(error!.Message, Does.Contain($"cursor {entries[9].Cursor} "));
        }
    }
}
