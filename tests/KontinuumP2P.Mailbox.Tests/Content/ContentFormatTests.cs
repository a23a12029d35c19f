using KontinuumP2P.Certs.Hashing;
using KontinuumP2P.Mailbox.Content;

namespace KontinuumP2P.Mailbox.Tests.Content;

[TestFixture]
public sealed class ContentFormatTests
{
    private const int ChunkSize = 4096;

    private static (ContentManifest Manifest, byte[][] Chunks, byte[] Key, byte[] Plain) Seal(int size)
    {
        var plain = new byte[size];
        new Random(size).NextBytes(plain);
        var key = ContentCipher.NewKey();
        var count = (int)ContentLimits.ChunkCountOf(size, ChunkSize);
        using var cipher = new ContentCipher(key, size, ChunkSize, count);
        var chunks = new byte[count][];
        var hashes = new byte[count * 32];
        for (var i = 0; i < count; i++)
        {
            var length = Math.Min(ChunkSize, size - (i * ChunkSize));
            chunks[i] = new byte[length + ContentCipher.TagLength];
            cipher.Encrypt(i, plain.AsSpan(i * ChunkSize, length), chunks[i]);
            Blake3.Hash(chunks[i], hashes.AsSpan(i * 32, 32));
        }
        return (ContentManifest.Create(size, ChunkSize, hashes, new ContentLimits()), chunks, key, plain);
    }

    [Test]
    public void Every_chunk_verifies_and_opens_alone()
    {
        var (manifest, chunks, key, plain) = Seal((3 * ChunkSize) + 100);
        Assert.That(manifest.ChunkCount, Is.EqualTo(4));
        using var cipher = new ContentCipher(key, manifest.Size, ChunkSize, manifest.ChunkCount);
        for (var i = manifest.ChunkCount - 1; i >= 0; i--)
        {
            Assert.That(manifest.Verify(i, chunks[i]), Is.True);
            var output = new byte[manifest.PlaintextLengthOf(i)];
            Assert.That(cipher.TryDecrypt(i, chunks[i], output), Is.True);
            Assert.That(output, Is.EqualTo(plain.AsSpan(i * ChunkSize, output.Length).ToArray()));
        }
    }

    [Test]
    public void Swapped_or_reordered_chunks_fail_the_hash_and_the_tag()
    {
        var (manifest, chunks, key, _) = Seal(4 * ChunkSize);
        using var cipher = new ContentCipher(key, manifest.Size, ChunkSize, manifest.ChunkCount);
        var output = new byte[ChunkSize];
        Assert.Multiple(() =>
        {
            Assert.That(manifest.Verify(0, chunks[1]), Is.False, "chunk 1 in place 0 passes the hash list");
            Assert.That(manifest.Verify(3, chunks[2]), Is.False, "chunk 2 in place 3 passes the hash list");
            // Even a receiver that skipped the hash list could not open a moved chunk: the index is in nonce and AAD.
            Assert.That(cipher.TryDecrypt(0, chunks[1], output), Is.False);
            Assert.That(cipher.TryDecrypt(2, chunks[3], output), Is.False);
        });
        // Another content shape (size/count bound in the AAD) does not open either.
        using var other = new ContentCipher(key, manifest.Size - 1, ChunkSize, manifest.ChunkCount);
        Assert.That(other.TryDecrypt(0, chunks[0], output), Is.False);
    }

    [Test]
    public void A_flipped_bit_fails_and_a_manifest_must_hash_to_its_id()
    {
        var (manifest, chunks, _, _) = Seal(2 * ChunkSize);
        chunks[1][7] ^= 1;
        Assert.That(manifest.Verify(1, chunks[1]), Is.False);
        var bytes = manifest.Bytes.ToArray();
        Assert.That(ContentManifest.Parse(bytes, manifest.Id, new ContentLimits()).Id, Is.EqualTo(manifest.Id));
        bytes[^1] ^= 1;
        var refused = Assert.Throws<ContentException>(() => ContentManifest.Parse(bytes, manifest.Id, new ContentLimits()));
        Assert.That(refused!.Code, Is.EqualTo(ContentErrorCode.BadManifest));
    }

    [Test]
    public void Limits_refuse_with_distinct_codes()
    {
        var limits = new ContentLimits { MaxContentBytes = 1 << 20 };
        Assert.Multiple(() =>
        {
            Assert.That(Code(() => limits.Check((1 << 20) + 1, ChunkSize, ContentLimits.ChunkCountOf((1 << 20) + 1, ChunkSize))), Is.EqualTo(ContentErrorCode.ContentTooLarge));
            Assert.That(Code(() => limits.Check(1000, 100, 10)), Is.EqualTo(ContentErrorCode.BadChunkSize));
            Assert.That(Code(() => limits.Check(1000, ContentLimits.MaxChunkSize + 1, 1)), Is.EqualTo(ContentErrorCode.BadChunkSize));
            Assert.That(Code(() => new ContentLimits().Check(17L << 30, ContentLimits.MaxChunkSize, 17 << 10)), Is.EqualTo(ContentErrorCode.ContentTooLarge));
            Assert.That(Code(() => new ContentLimits { MaxContentBytes = 16L << 30 }.Check(16L << 30, ContentLimits.MinChunkSize, (16L << 30) / ContentLimits.MinChunkSize)),
                Is.EqualTo(ContentErrorCode.TooManyChunks));
            Assert.That(Code(() => limits.Check(10_000, ChunkSize, 5)), Is.EqualTo(ContentErrorCode.BadManifest));
        });
        Assert.Throws<ArgumentOutOfRangeException>(() => new ContentLimits { MaxContentBytes = 1L << 40 }.Validate());
    }

    [Test]
    public void A_reference_round_trips_through_a_blob_and_text()
    {
        var (manifest, _, key, _) = Seal(5000);
        var reference = new ContentReference(manifest.Id, manifest.Size, ChunkSize, manifest.ChunkCount, key, "photo.jpg");
        var blob = reference.ToBlob();
        Assert.That(ContentReference.IsReference(blob), Is.True);
        Assert.That(ContentReference.IsReference("hello"u8), Is.False);
        var back = ContentReference.FromBlob(blob);
        Assert.That(back.Id, Is.EqualTo(reference.Id));
        Assert.That(back.Key, Is.EqualTo(key));
        Assert.That(back.Name, Is.EqualTo("photo.jpg"));
        Assert.That(ContentReference.ParseText(reference.ToText()).Size, Is.EqualTo(5000));
        var small = new ContentLimits { MaxContentBytes = 4096 };
        Assert.That(Code(() => ContentReference.FromBlob(blob, small)), Is.EqualTo(ContentErrorCode.ContentTooLarge));
        Assert.That(Code(() => ContentReference.FromBlob(blob.AsSpan(0, blob.Length - 3))), Is.EqualTo(ContentErrorCode.BadManifest));
    }

    private static ContentErrorCode? Code(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (ContentException e)
        {
            return e.Code;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
