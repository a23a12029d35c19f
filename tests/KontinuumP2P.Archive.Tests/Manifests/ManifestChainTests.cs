using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Manifests;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Tests.Manifests;

public sealed class ManifestChainTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-manifest-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static async Task<List<byte[]>> WriteChainAsync(IArchiveSink sink, ArchiveKeys keys, int length)
    {
        var previous = new byte[32];
        var sealedBoxes = new List<byte[]>();
        for (var i = 0; i < length; i++)
        {
            var blobId = TestBlobs.Id(BitConverter.GetBytes(i));
            var manifest = new Manifest((ulong)i, previous, ArchiveObjectId.Pack(TestBlobs.Id(blobId)), (ulong)i * 10 + 1, (ulong)i * 10 + 10,
                [new ManifestBlob(blobId, (ulong)i * 10 + 1)]);
            var sealedBox = ManifestCodec.Seal(manifest, keys);
            await sink.PutAsync(keys.ManifestAddress((ulong)i), sealedBox, CancellationToken.None);
            previous = ManifestChain.LinkHash(sealedBox);
            sealedBoxes.Add(sealedBox);
        }
        return sealedBoxes;
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(17)]
    [TestCase(64)]
    [TestCase(100)]
    public async Task The_chain_length_is_found_by_probing_and_bisecting(int length)
    {
        await using var sink = new DirectorySink(_dir);
        var keys = ArchiveKeys.Derive(TestBlobs.Key(new Random(length)));
        await WriteChainAsync(sink, keys, length);
        Assert.That(await ManifestChain.FindLengthAsync(sink, keys, CancellationToken.None), Is.EqualTo((ulong)length));
        // Another mailbox's chain in the same sink is invisible to this one.
        Assert.That(await ManifestChain.FindLengthAsync(sink, ArchiveKeys.Derive(new byte[32]), CancellationToken.None), Is.Zero);
    }

    [Test]
    public async Task The_chain_reads_back_in_order_and_checks_links()
    {
        await using var sink = new DirectorySink(_dir);
        var keys = ArchiveKeys.Derive(TestBlobs.Key(new Random(9)));
        await WriteChainAsync(sink, keys, 5);
        var read = new List<Manifest>();
        await foreach (var (m, _) in ManifestChain.ReadAsync(sink, keys, CancellationToken.None)) read.Add(m);
        Assert.That(read.Select(m => m.Sequence), Is.EqualTo(new ulong[] { 0, 1, 2, 3, 4 }));
        Assert.That(read[3].FirstCursor, Is.EqualTo(31UL));
    }

    [Test]
    public async Task A_manifest_swapped_between_positions_or_tampered_is_refused()
    {
        await using var sink = new DirectorySink(_dir);
        var keys = ArchiveKeys.Derive(TestBlobs.Key(new Random(10)));
        var boxes = await WriteChainAsync(sink, keys, 3);
        // Manifest 1's bytes placed at position 2: the address is bound into the AEAD.
        await sink.ReplaceAsync(keys.ManifestAddress(2), boxes[1], CancellationToken.None);
        var e = Assert.ThrowsAsync<PackFormatException>(async () =>
        {
            await foreach (var _ in ManifestChain.ReadAsync(sink, keys, CancellationToken.None))
            {
            }
        });
        Assert.That(e!.Message, Does.Contain("manifest 2"));
        var flipped = (byte[])boxes[0].Clone();
        flipped[30] ^= 1;
        Assert.Throws<PackFormatException>(() => ManifestCodec.Open(flipped, 0, keys));
        Assert.Throws<PackFormatException>(() => ManifestCodec.Open(boxes[0].AsSpan(0, 20), 0, keys));
    }

    [Test]
    public void A_manifest_holder_sees_no_cursor_or_blob_id_in_the_clear()
    {
        var keys = ArchiveKeys.Derive(TestBlobs.Key(new Random(11)));
        var blobId = TestBlobs.Id([1, 2, 3]);
        var box = ManifestCodec.Seal(new Manifest(0, new byte[32], ArchiveObjectId.Pack(blobId), 123456789, 123456789, [new ManifestBlob(blobId, 123456789)]), keys);
        Assert.That(box.AsSpan().IndexOf(blobId), Is.EqualTo(-1));
        Assert.That(box.AsSpan().IndexOf(BitConverter.GetBytes(123456789UL)), Is.EqualTo(-1));
        Assert.That(keys.ManifestAddress(0).ToString(), Does.Not.Contain(Convert.ToHexStringLower(keys.Locator.Span)));
    }
}
