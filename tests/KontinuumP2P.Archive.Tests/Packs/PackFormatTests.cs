using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Packs;

namespace KontinuumP2P.Archive.Tests.Packs;

public sealed class PackFormatTests
{
    private static (ArchiveKeys Keys, Pack Pack, List<KontinuumP2P.Archive.Pushing.ArchiveBlob> Blobs) Build(int seed, int count = 40)
    {
        var random = new Random(seed);
        var keys = ArchiveKeys.Derive(TestBlobs.Key(random));
        var blobs = TestBlobs.Make(random, count, 1, 5000, firstCursor: 10);
        var builder = new PackBuilder(keys, 1024);
        foreach (var b in blobs) builder.Add(b.BlobId.Span, b.Cursor, b.Data.Span);
        return (keys, builder.Build(), blobs);
    }

    [Test]
    public void Round_trip_gives_every_blob_back_with_its_cursor()
    {
        var (keys, pack, blobs) = Build(1);
        var entries = PackReader.Open(pack.Bytes, pack.Id, keys);
        Assert.That(entries, Has.Count.EqualTo(blobs.Count));
        for (var i = 0; i < blobs.Count; i++)
        {
            Assert.That(entries[i].Cursor, Is.EqualTo(blobs[i].Cursor));
            Assert.That(entries[i].BlobId.ToArray(), Is.EqualTo(blobs[i].BlobId.ToArray()));
            Assert.That(pack.Bytes.AsSpan((int)entries[i].Offset, entries[i].Length).ToArray(), Is.EqualTo(blobs[i].Data.ToArray()));
        }
    }

    [Test]
    public void Same_blobs_and_keys_give_the_same_pack_id_and_other_keys_another()
    {
        var (_, a, _) = Build(2);
        var (_, b, _) = Build(2);
        Assert.That(b.Bytes, Is.EqualTo(a.Bytes));
        Assert.That(b.Id, Is.EqualTo(a.Id));
        var (_, c, _) = Build(3);
        Assert.That(c.Id, Is.Not.EqualTo(a.Id));
    }

    [Test]
    public void Pack_id_is_a_blake3_cidv1_raw()
    {
        var (_, pack, _) = Build(4);
        var cid = pack.Id.ToCidBytes();
        Assert.That(cid[..4], Is.EqualTo(new byte[] { 0x01, 0x55, 0x1e, 0x20 }));
        Assert.That(cid[4..], Is.EqualTo(TestBlobs.Id(pack.Bytes)));
        Assert.That(pack.Id.ToString(), Does.StartWith("bafkr4i"));
        Assert.That(ArchiveObjectId.Parse(pack.Id.ToString()), Is.EqualTo(pack.Id));
    }

    [Test]
    public void Truncated_packs_are_refused_with_a_clear_error()
    {
        var (keys, pack, _) = Build(5);
        foreach (var cut in new[] { 0, 1, 3, 4, 50, pack.Bytes.Length / 2, pack.Bytes.Length - 1 })
        {
            var truncated = pack.Bytes[..cut];
            var e = Assert.Throws<PackFormatException>(() => PackReader.ReadHeader(truncated, keys), $"cut at {cut}");
            Assert.That(e!.Message, Does.Contain("truncated").Or.Contain("too short").Or.Contain("authentication").Or.Contain("does not fit"));
        }
        // Cut from the front: the trailer is intact but the header no longer lines up.
        Assert.Throws<PackFormatException>(() => PackReader.ReadHeader(pack.Bytes[100..], keys));
    }

    [Test]
    public void Flipped_bytes_anywhere_are_found()
    {
        var (keys, pack, _) = Build(6);
        var random = new Random(6);
        for (var i = 0; i < 200; i++)
        {
            var copy = (byte[])pack.Bytes.Clone();
            var at = i < 8 ? copy.Length - 1 - i : random.Next(copy.Length);
            copy[at] ^= (byte)(1 << random.Next(8));
            Assert.Throws<PackFormatException>(() => PackReader.Open(copy, pack.Id, keys), $"flip at {at}");
            Assert.That(PackReader.HasId(copy, pack.Id), Is.False);
        }
    }

    [Test]
    public void A_header_edited_and_resealed_under_another_key_does_not_open()
    {
        var (_, pack, _) = Build(7);
        var other = ArchiveKeys.Derive(new byte[32]);
        var e = Assert.Throws<PackFormatException>(() => PackReader.ReadHeader(pack.Bytes, other));
        Assert.That(e!.Message, Does.Contain("authentication"));
    }

    [Test]
    public void A_huge_header_length_is_refused_before_any_allocation()
    {
        var (keys, pack, _) = Build(8);
        var copy = (byte[])pack.Bytes.Clone();
        BitConverter.TryWriteBytes(copy.AsSpan(copy.Length - 4), uint.MaxValue);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<PackFormatException>(() => PackReader.ReadHeader(copy, keys));
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(64 * 1024));
        Assert.That(e!.Message, Does.Contain("header length"));
    }

    [Test]
    public void Builder_refuses_bad_input()
    {
        var keys = ArchiveKeys.Derive(new byte[32]);
        var builder = new PackBuilder(keys);
        Assert.Throws<ArgumentException>(() => builder.Add(new byte[31], 1, [1]));
        Assert.Throws<ArgumentException>(() => builder.Add(new byte[32], 1, new byte[PackFormat.MaxBlobBytes + 1]));
        builder.Add(new byte[32], 5, [1]);
        Assert.Throws<ArgumentException>(() => builder.Add(new byte[32], 5, [1]), "cursors must increase");
        Assert.Throws<InvalidOperationException>(() => new PackBuilder(keys).Build(), "empty pack");
        Assert.Throws<ArgumentException>(() => ArchiveKeys.Derive(new byte[31]));
    }

    [Test]
    public void Keys_are_distinct_and_deterministic()
    {
        var a = ArchiveKeys.Derive(new byte[32]);
        var b = ArchiveKeys.Derive(new byte[32]);
        Assert.That(a.Locator.ToArray(), Is.EqualTo(b.Locator.ToArray()));
        Assert.That(a.ManifestKey, Is.Not.EqualTo(a.PackKey));
        Assert.That(a.Locator.ToArray(), Is.Not.EqualTo(a.ManifestKey));
        Assert.That(a.ManifestAddress(0), Is.Not.EqualTo(a.ManifestAddress(1)));
        Assert.That(ArchiveObjectId.Parse(a.ManifestAddress(7).ToString()), Is.EqualTo(a.ManifestAddress(7)));
    }

    [TestCase("")]
    [TestCase("bafk")]
    [TestCase("m00")]
    [TestCase("mZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ")]
    [TestCase("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi")]
    public void Object_names_that_are_not_archive_ids_are_refused(string name) =>
        Assert.That(ArchiveObjectId.TryParse(name, out _), Is.False);
}
