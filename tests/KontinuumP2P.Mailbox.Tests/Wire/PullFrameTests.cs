using Google.Protobuf;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Resources;
using KontinuumP2P.Mailbox.Protos;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Tests.Wire;

/// <summary>
/// The hand-encoded pull frame must be byte for byte what the generated code writes for the same page, so the wire
/// format is unchanged; its buffer grows within its cap and is charged to the stream's scope.
/// </summary>
[TestFixture]
public sealed class PullFrameTests
{
    private static byte[] Expected(ulong requestId, IReadOnlyList<(ulong Cursor, byte[] Id, byte[] Data)> blobs, bool hasMore, ulong maxCursor, ulong epoch)
    {
        var result = new PullResult { HasMore = hasMore, MaxCursor = maxCursor, Epoch = epoch };
        foreach (var (cursor, id, data) in blobs)
            result.Blobs.Add(new Blob { Cursor = cursor, BlobId = ByteString.CopyFrom(id), Data = ByteString.CopyFrom(data) });
        var response = new Response { RequestId = requestId, Pull = result };
        var body = response.ToByteArray();
        return [.. Varint.Encode((ulong)body.Length), .. body];
    }

    private static byte[] Encode(ulong requestId, IReadOnlyList<(ulong Cursor, byte[] Id, byte[] Data)> blobs, bool hasMore, ulong maxCursor, ulong epoch,
        ResourceScope? scope = null, int cap = 64 << 20)
    {
        using var frame = new PullFrame(scope, cap);
        foreach (var (cursor, id, data) in blobs) frame.Add(cursor, id, data);
        return frame.Finish(requestId, hasMore, maxCursor, epoch).ToArray();
    }

    [Test]
    public void Matches_the_generated_encoding_for_random_pages()
    {
        var random = new Random(1313);
        for (var round = 0; round < 300; round++)
        {
            // Sizes cross every varint length boundary of the blob, the page and the frame; ids of 32 bytes or none.
            var count = random.Next(0, round % 10 == 0 ? 600 : 40);
            var blobs = Enumerable.Range(0, count).Select(i =>
            {
                var length = random.Next(4) switch { 0 => 0, 1 => random.Next(1, 200), 2 => random.Next(100, 20_000), _ => random.Next(0, 1100) };
                var data = new byte[length];
                random.NextBytes(data);
                var id = random.Next(8) == 0 ? [] : new byte[32];
                random.NextBytes(id);
                var cursor = random.Next(5) == 0 ? (ulong)random.NextInt64() : (ulong)(i + 1);
                return (cursor, id, data);
            }).ToList();
            ulong requestId = round switch { 0 => 0, 1 => ulong.MaxValue, _ => (ulong)random.NextInt64(1, long.MaxValue) >> random.Next(0, 63) };
            var hasMore = random.Next(2) == 0;
            var maxCursor = random.Next(3) == 0 ? 0 : (ulong)random.NextInt64() >> random.Next(0, 63);
            var epoch = random.Next(3) == 0 ? 0 : (ulong)random.NextInt64();
            Assert.That(Encode(requestId, blobs, hasMore, maxCursor, epoch), Is.EqualTo(Expected(requestId, blobs, hasMore, maxCursor, epoch)),
                $"round {round}: {count} blobs");
        }
    }

    [Test]
    public void Parses_back_with_the_generated_parser()
    {
        var blobs = Enumerable.Range(1, 1024).Select(i => ((ulong)i, Enumerable.Repeat((byte)i, 32).ToArray(), new byte[1024 + i % 7])).ToList();
        var bytes = Encode(77, blobs, true, 5000, 0x1122334455667788);
        var length = Varint.Read(bytes, out var prefix);
        Assert.That(length, Is.EqualTo((ulong)(bytes.Length - prefix)));
        var response = Response.Parser.ParseFrom(bytes.AsSpan(prefix));
        Assert.Multiple(() =>
        {
            Assert.That(response.RequestId, Is.EqualTo(77));
            Assert.That(response.Pull.Blobs, Has.Count.EqualTo(1024));
            Assert.That(response.Pull.Blobs[1023].Cursor, Is.EqualTo(1024));
            Assert.That(response.Pull.Blobs[5].BlobId.ToByteArray(), Is.EqualTo(Enumerable.Repeat((byte)6, 32).ToArray()));
            Assert.That(response.Pull.Blobs[5].Data.Length, Is.EqualTo(1024 + 6));
            Assert.That(response.Pull.HasMore, Is.True);
            Assert.That(response.Pull.MaxCursor, Is.EqualTo(5000));
            Assert.That(response.Pull.Epoch, Is.EqualTo(0x1122334455667788));
        });
    }

    private static ResourceScope StreamScope(ResourceManager manager) => manager.OpenStream(null, manager.Protocol(MailboxProtocol.ProtocolId));

    [Test]
    public void Growth_stops_at_the_cap_and_the_scope_is_charged_while_held()
    {
        using var manager = new ResourceManager(new ResourceManagerOptions { Stream = new(Streams: 1, Memory: 16L << 20) });
        using var scope = StreamScope(manager);
        var frame = new PullFrame(scope, 1 << 20);
        Assert.That(scope.Memory, Is.GreaterThan(0));
        var data = new byte[100_000];
        for (var i = 0; i < 10; i++) frame.Add((ulong)i + 1, new byte[32], data);
        Assert.That(() => frame.Add(11, new byte[32], data), Throws.InvalidOperationException.With.Message.Contains("frame cap"));
        frame.Dispose();
        Assert.That(scope.Memory, Is.Zero, "the buffer's charge is released on disposal");
    }

    [Test]
    public void A_full_scope_refuses_the_page_buffer()
    {
        using var manager = new ResourceManager(new ResourceManagerOptions { Stream = new(Streams: 1, Memory: 1024) });
        using var scope = StreamScope(manager);
        Assert.That(() => new PullFrame(scope, 1 << 20), Throws.TypeOf<ResourceLimitExceededException>());
        Assert.That(scope.Memory, Is.Zero);
    }

    [Test]
    public void The_client_parse_reads_what_the_generated_parser_reads_and_declines_anything_else()
    {
        var random = new Random(1414);
        for (var round = 0; round < 200; round++)
        {
            var blobs = Enumerable.Range(0, random.Next(0, 300)).Select(i =>
            {
                var data = new byte[random.Next(4) == 0 ? random.Next(20_000, 70_000) : random.Next(0, 1100)];
                random.NextBytes(data);
                var id = new byte[random.Next(8) == 0 ? 0 : 32];
                random.NextBytes(id);
                return ((ulong)(i + 1), id, data);
            }).ToList();
            var frame = Encode((ulong)random.NextInt64(), blobs, random.Next(2) == 0, (ulong)random.Next(), (ulong)random.NextInt64());
            Varint.Read(frame, out var prefix);
            var body = frame.AsSpan(prefix);
            var expected = Response.Parser.ParseFrom(body);
            var parsed = PullAnswerParser.TryParse(body);
            Assert.That(parsed, Is.Not.Null, $"round {round}");
            var (marker, page) = parsed!.Value;
            Assert.That(marker.RequestId, Is.EqualTo(expected.RequestId));
            Assert.That((page.HasMore, page.MaxCursor, page.Epoch), Is.EqualTo((expected.Pull.HasMore, expected.Pull.MaxCursor, expected.Pull.Epoch)));
            Assert.That(page.Blobs.Select(b => (b.Cursor, b.BlobId.ToArray(), b.Data.ToArray())),
                Is.EqualTo(expected.Pull.Blobs.Select(b => (b.Cursor, b.BlobId.ToByteArray(), b.Data.ToByteArray()))), $"round {round}");
            // A cut frame is declined (the generated parser then reports the error), never read as a shorter page.
            Assert.That(PullAnswerParser.TryParse(body[..random.Next(1, body.Length)]), Is.Null);
        }
        Assert.That(PullAnswerParser.TryParse(new Response { RequestId = 3, Ack = new AckResult { AckedUpTo = 4 } }.ToByteArray()), Is.Null, "another answer");
        var unknown = new Response { RequestId = 3, Pull = new PullResult { MaxCursor = 1 } }.ToByteArray().Concat(new byte[] { 0x78, 0x01 }).ToArray();
        Assert.That(PullAnswerParser.TryParse(unknown), Is.Null, "an unknown field");
        Assert.That(PullAnswerParser.TryParse([0x22, 0x05, 0x0A, 0x09]), Is.Null, "a length past the end");
    }
}
