using System.Buffers;
using KontinuumP2P.Net.Muxing;

namespace KontinuumP2P.Net.Tests.Muxing;

public sealed class YamuxFrameTests
{
    // Golden frames from the wire notes §11, produced by js-libp2p.
    [TestCase("000200010000000000000000", 2, 1, 0u, 0u)]
    [TestCase("000100010000000100000000", 1, 1, 1u, 0u)]
    [TestCase("000100040000000100000000", 1, 4, 1u, 0u)]
    [TestCase("000100080000000100000000", 1, 8, 1u, 0u)]
    [TestCase("000300000000000000000000", 3, 0, 0u, 0u)]
    public void GoldenFramesEncodeAndDecode(string hex, int type, int flags, uint id, uint length)
    {
        var header = YamuxHeader.Create((YamuxFrameType)type, (YamuxFlags)flags, id, length);
        var bytes = new byte[YamuxHeader.Size];
        header.Write(bytes);
        Assert.That(Convert.ToHexStringLower(bytes), Is.EqualTo(hex));
        Assert.That(YamuxHeader.Read(Convert.FromHexString(hex)), Is.EqualTo(header));
    }

    [TestCase(0, 0, 0xffffffffu, 0xffffffffu)]
    [TestCase(0, 5, 1u, 36u)]
    [TestCase(1, 2, 2u, 262144u)]
    [TestCase(1, 15, 0xffffffffu, 0xffffffffu)]
    [TestCase(2, 2, 0u, 0xffffffffu)]
    [TestCase(3, 0, 0u, 2u)]
    public void HeadersRoundTripIncludingExtremes(int type, int flags, uint id, uint length)
    {
        var header = YamuxHeader.Create((YamuxFrameType)type, (YamuxFlags)flags, id, length);
        var bytes = new byte[YamuxHeader.Size];
        header.Write(bytes);
        Assert.Multiple(() =>
        {
            Assert.That(bytes[0], Is.EqualTo(0));
            Assert.That(bytes[1], Is.EqualTo(type));
            Assert.That(bytes[2] << 8 | bytes[3], Is.EqualTo(flags));
            Assert.That(YamuxHeader.Read(bytes), Is.EqualTo(header));
        });
    }

    [Test]
    public void UnknownTypesAndVersionsDecodeForTheSessionToReject()
    {
        var header = YamuxHeader.Read(Convert.FromHexString("07090000000000050000000a"));
        Assert.That(header, Is.EqualTo(new YamuxHeader(7, (YamuxFrameType)9, YamuxFlags.None, 5, 10)));
    }

    [Test]
    public void TryReadWaitsForTwelveBytesAndHandlesSplitSegments()
    {
        var bytes = Convert.FromHexString("000100010000000100000000" + "0002000200000000deadbeef");
        var partial = new ReadOnlySequence<byte>(bytes.AsMemory(0, 11));
        Assert.That(YamuxHeader.TryRead(ref partial, out _), Is.False);
        Assert.That(partial.Length, Is.EqualTo(11));

        // Split every frame across segments of 5 bytes.
        var first = new Segment(bytes.AsMemory(0, 5));
        var last = first.Append(bytes.AsMemory(5, 5)).Append(bytes.AsMemory(10, 5)).Append(bytes.AsMemory(15, 5))
            .Append(bytes.AsMemory(20, 4));
        var sequence = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        Assert.That(YamuxHeader.TryRead(ref sequence, out var open), Is.True);
        Assert.That(YamuxHeader.TryRead(ref sequence, out var pong), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(open, Is.EqualTo(YamuxHeader.Create(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0)));
            Assert.That(pong, Is.EqualTo(YamuxHeader.Create(YamuxFrameType.Ping, YamuxFlags.Ack, 0, 0xdeadbeef)));
            Assert.That(sequence.IsEmpty, Is.True);
        });
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
