using System.Buffers;
using System.IO.Pipelines;
using FsCheck;
using FsCheck.Fluent;
using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Core.Tests;

public class VarintTests
{
    [TestCase(1ul, "01")]
    [TestCase(127ul, "7f")]
    [TestCase(128ul, "8001")]
    [TestCase(255ul, "ff01")]
    [TestCase(300ul, "ac02")]
    [TestCase(16384ul, "808001")]
    [TestCase(0ul, "00")]
    public void EncodesTheSpecTable(ulong value, string hex)
    {
        Assert.That(Convert.ToHexStringLower(Varint.Encode(value)), Is.EqualTo(hex));
        Assert.That(Varint.Read(Convert.FromHexString(hex), out var n), Is.EqualTo(value));
        Assert.That(n, Is.EqualTo(hex.Length / 2));
    }

    [Test]
    public void RoundTripsEveryValue()
    {
        Prop.ForAll<ulong>(v =>
        {
            var value = v & long.MaxValue;
            var bytes = Varint.Encode(value);
            return Varint.Read(bytes, out var n) == value && n == bytes.Length && bytes.Length <= Varint.MaxLength;
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void RejectsNonMinimalTooLongAndTruncated()
    {
        Assert.That(Varint.TryRead([0x81, 0x00], out _, out _), Is.EqualTo(VarintStatus.NotMinimal));
        Assert.That(Varint.TryRead([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], out _, out _),
            Is.EqualTo(VarintStatus.TooLong));
        Assert.That(Varint.TryRead([0x80, 0x80], out _, out _), Is.EqualTo(VarintStatus.NeedMoreData));
        Assert.That(() => Varint.Encode(ulong.MaxValue), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public async Task LengthPrefixedReadKeepsLeftoverBytes()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 3, (byte)'a', (byte)'b', (byte)'c', 1, (byte)'z', 0x7f });
        await pipe.Writer.CompleteAsync();
        var first = await LengthPrefixed.ReadAsync(pipe.Reader, 16, CancellationToken.None);
        var second = await LengthPrefixed.ReadAsync(pipe.Reader, 16, CancellationToken.None);
        Assert.That(first, Is.EqualTo("abc"u8.ToArray()));
        Assert.That(second, Is.EqualTo("z"u8.ToArray()));
        // 0x7f announces 127 bytes but the stream ends: an error, not a silent null.
        Assert.That(async () => await LengthPrefixed.ReadAsync(pipe.Reader, 200, CancellationToken.None),
            Throws.InstanceOf<InvalidDataException>());
    }

    [Test]
    public void OversizedLengthIsRefusedBeforeTheBodyArrives()
    {
        // Only the prefix (4 MiB + 1) is present: the cap must fire without waiting for or buffering the body.
        var prefix = Varint.Encode((4 << 20) + 1);
        var buffer = new ReadOnlySequence<byte>(prefix);
        Assert.That(() => LengthPrefixed.TryParse(ref buffer, 4 << 20, out _),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("exceeds"));
    }

    [Test]
    public async Task CleanEndBeforeAMessageReturnsNull()
    {
        var pipe = new Pipe();
        await pipe.Writer.CompleteAsync();
        Assert.That(await LengthPrefixed.ReadAsync(pipe.Reader, 16, CancellationToken.None), Is.Null);
    }

    [Test]
    public void Base58RoundTrips()
    {
        Prop.ForAll<byte[]>(bytes =>
        {
            var data = bytes ?? [];
            return Base58.Decode(Base58.Encode(data)).AsSpan().SequenceEqual(data);
        }).QuickCheckThrowOnFailure();
        Prop.ForAll<byte[]>(bytes =>
        {
            var data = bytes ?? [];
            return Base32.Decode(Base32.Encode(data)).AsSpan().SequenceEqual(data);
        }).QuickCheckThrowOnFailure();
    }
}
