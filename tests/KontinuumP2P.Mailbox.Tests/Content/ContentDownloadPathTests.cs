using Google.Protobuf;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Protos.Content;

namespace KontinuumP2P.Mailbox.Tests.Content;

/// <summary>
/// The download's fast path: chunk frames written and read around the chunk's bytes, chunks opened in place, a holder
/// that hashes each chunk once per process, the background flush of the partial file, and a fresh put that encrypts
/// the file exactly twice.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed class ContentDownloadPathTests
{
    private const int ChunkSize = 64 << 10;

    [TestCase(7UL, 0u, 16)]
    [TestCase(1UL, 1u, 4096)]
    [TestCase(300UL, 16383u, (1 << 20) + 16)]
    [TestCase(ulong.MaxValue, uint.MaxValue, 127)]
    public void A_chunk_frame_is_byte_for_byte_what_the_generated_code_writes_and_parses_back(ulong requestId, uint index, int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        var generated = new ContentResponse { RequestId = requestId, Chunk = new Chunk { Index = index, Data = ByteString.CopyFrom(data) } };
        var expected = new byte[Core.Codecs.Varint.SizeOf((ulong)generated.CalculateSize()) + generated.CalculateSize()];
        var at = Core.Codecs.Varint.Write(expected, (ulong)generated.CalculateSize());
        generated.WriteTo(expected.AsSpan(at));

        var frame = new byte[ChunkFrames.MaxHeaderLength + length];
        var header = ChunkFrames.WriteHeader(frame, requestId, index, length);
        data.CopyTo(frame, header);
        Assert.That(frame.AsSpan(0, header + length).ToArray(), Is.EqualTo(expected));

        var bodyStart = Core.Codecs.Varint.SizeOf((ulong)generated.CalculateSize());
        Assert.That(ChunkFrames.TryParseChunk(expected.AsSpan(bodyStart), out var id, out var parsedIndex, out var offset, out var dataLength), Is.True);
        Assert.That((id, parsedIndex, dataLength), Is.EqualTo((requestId, index, length)));
        Assert.That(expected.AsSpan(bodyStart + offset, dataLength).ToArray(), Is.EqualTo(data));
    }

    [Test]
    public void Other_answers_are_left_to_the_generated_parser()
    {
        foreach (var other in new ContentResponse[]
                 {
                     new() { RequestId = 3, Chunk = new Chunk { Index = 4, Missing = true } },
                     new() { RequestId = 3, Error = new ContentError { Code = 9, Message = "no" } },
                     new() { RequestId = 3, FetchEnd = new FetchEnd() },
                     new() { RequestId = 3, Chunk = new Chunk { Index = 4, Data = ByteString.CopyFrom(1, 2, 3), Missing = true } },
                 })
        {
            Assert.That(ChunkFrames.TryParseChunk(other.ToByteArray(), out _, out _, out _, out _), Is.False, other.ToString());
        }
        // A chunk frame cut short or padded is not taken as one either.
        var frame = new ContentResponse { RequestId = 3, Chunk = new Chunk { Index = 4, Data = ByteString.CopyFrom(new byte[100]) } }.ToByteArray();
        Assert.That(ChunkFrames.TryParseChunk(frame.AsSpan(0, frame.Length - 1), out _, out _, out _, out _), Is.False);
        Assert.That(ChunkFrames.TryParseChunk([.. frame, 0], out _, out _, out _, out _), Is.False);
    }

    [Test]
    public void A_chunk_opens_in_place_and_a_flipped_bit_does_not()
    {
        var plain = new byte[ChunkSize];
        new Random(5).NextBytes(plain);
        using var cipher = new ContentCipher(ContentCipher.NewKey(), 3L * ChunkSize, ChunkSize, 3);
        var chunk = new byte[ChunkSize + ContentCipher.TagLength];
        cipher.Encrypt(1, plain, chunk);
        var damaged = (byte[])chunk.Clone();
        damaged[10] ^= 1;

        Assert.That(cipher.TryDecryptInPlace(1, chunk), Is.True);
        Assert.That(chunk.AsSpan(0, ChunkSize).ToArray(), Is.EqualTo(plain));
        Assert.That(cipher.TryDecryptInPlace(1, damaged), Is.False);
        cipher.Encrypt(1, plain, chunk);
        Assert.That(cipher.TryDecryptInPlace(2, chunk), Is.False, "another index does not open");
    }

    [Test]
    public async Task A_holder_hashes_a_chunk_once_per_process_and_drops_one_damaged_before_its_first_read(CancellationToken ct)
    {
        await using var fleet = await ContentFleet.StartAsync(1);
        var client = new ContentClient(await fleet.ClientHostAsync(), new ContentClientOptions { ChunkSize = ChunkSize });
        var upload = await client.UploadAsync(fleet.NewFile("a.bin", 6 * ChunkSize, seed: 1), fleet.Holders(), cancellationToken: ct);
        var id = upload.Reference.Id;
        var buffer = new byte[ChunkSize + ContentCipher.TagLength];
        var store = fleet.Nodes[0].Content!.Store;
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 6; i++) Assert.That(await store.ReadChunkAsync(id, i, buffer, ct), Is.EqualTo(buffer.Length));
        }
        Assert.That(store.ChunksHashedOnRead, Is.Zero, "chunks hashed when stored are not hashed again to be served");

        // A store opened afresh (another process) hashes each chunk on its first read only; chunk 2 was damaged on disk meanwhile.
        var folder = Path.Combine(fleet.Nodes[0].ContentDirectory, id.ToHex());
        var bytes = await File.ReadAllBytesAsync(Path.Combine(folder, "2.c"), ct);
        bytes[5] ^= 1;
        await File.WriteAllBytesAsync(Path.Combine(folder, "2.c"), bytes, ct);
        var reopened = ContentStore.Open(store.Options);
        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < 6; i++) Assert.That(await reopened.ReadChunkAsync(id, i, buffer, ct), Is.EqualTo(i == 2 ? -1 : buffer.Length), $"chunk {i}");
        }
        Assert.That(reopened.ChunksHashedOnRead, Is.EqualTo(6), "each chunk hashed once; the damaged one dropped (then not held)");
        Assert.That(reopened.Find(id)!.Value.Have[2], Is.False);
    }

    [Test]
    public async Task The_partial_file_is_flushed_in_the_background_as_it_fills(CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), "kp-writeback-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous);
            var pacer = new WritebackPacer(handle, every: 64 << 10);
            var flushing = pacer.RunAsync();
            var block = new byte[16 << 10];
            for (var i = 0; i < 3; i++)
            {
                await RandomAccess.WriteAsync(handle, block, i * (long)block.Length, ct);
                pacer.Wrote(block.Length);
            }
            Assert.That(pacer.Flushes, Is.Zero, "48 KiB written: no flush asked for yet");
            for (var i = 3; i < 64; i++)
            {
                await RandomAccess.WriteAsync(handle, block, i * (long)block.Length, ct);
                pacer.Wrote(block.Length);
            }
            pacer.Complete();
            await flushing.WaitAsync(ct);
            // 1 MiB in 64 KiB steps asks for 16 flushes; requests made while one runs fold into it.
            Assert.That(pacer.Flushes, Is.InRange(1, 16));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task A_fresh_put_encrypts_the_file_twice_whatever_the_number_of_holders(CancellationToken ct)
    {
        await using var fleet = await ContentFleet.StartAsync(3);
        const int chunks = 9;
        var file = fleet.NewFile("put.bin", (chunks - 1) * ChunkSize + 100, seed: 7);
        // As `content put` does: the reference is made (and kept) before anything is sent, then the upload sends it.
        var client = new ContentClient(await fleet.ClientHostAsync(), new ContentClientOptions { ChunkSize = ChunkSize });
        var reference = await client.PrepareUploadAsync(file, ct);
        Assert.That(client.Sealed.Chunks, Is.EqualTo(chunks), "one pass makes the manifest");
        var upload = await client.ResumeUploadAsync(file, reference, fleet.Holders(), cancellationToken: ct);
        Assert.That(upload.ChunksSent, Is.EqualTo(3 * chunks));
        Assert.That(client.Sealed.Chunks, Is.EqualTo(2 * chunks), "one more pass sends every chunk to all 3 holders");

        // Sending it again: every holder has every chunk, so only the check that the file still matches seals it.
        var other = new ContentClient(await fleet.ClientHostAsync(), new ContentClientOptions { ChunkSize = ChunkSize });
        var again = await other.ResumeUploadAsync(file, reference, fleet.Holders(), cancellationToken: ct);
        Assert.That(again.ChunksSent, Is.Zero);
        Assert.That(other.Sealed.Chunks, Is.EqualTo(chunks));

        var direct = new ContentClient(await fleet.ClientHostAsync(), new ContentClientOptions { ChunkSize = ChunkSize });
        await direct.UploadAsync(fleet.NewFile("put2.bin", chunks * ChunkSize, seed: 8), fleet.Holders(), cancellationToken: ct);
        Assert.That(direct.Sealed.Chunks, Is.EqualTo(2 * chunks));
    }
}
