using System.Buffers;
using System.IO.Pipelines;
using KontinuumP2P.Net.Security.Noise;

namespace KontinuumP2P.Net.Tests.Security;

/// <summary>The sending half on its own: frame sizes, in-place sealing and the buffer contract of PipeWriter.</summary>
public sealed class NoiseEncryptingWriterTests
{
    private static readonly byte[] Key = Enumerable.Range(100, 32).Select(i => (byte)i).ToArray();

    [Test]
    public async Task WritesOfEverySizeBecomeValidFramesCarryingTheSameBytes()
    {
        var raw = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var send = new CipherState();
        send.InitializeKey(Key);
        var writer = new NoiseEncryptingWriter(raw.Writer, send, () => null);
        var data = new byte[700_000];
        new Random(11).NextBytes(data);

        var offset = 0;
        // Plain writes around the frame limit, a small header-like GetSpan/Advance, and a buffer larger than a frame.
        foreach (var size in new[] { 1, 65518, 65519, 65520, 12, 131_039 })
        {
            await writer.WriteAsync(data.AsMemory(offset, size));
            offset += size;
        }
        var header = writer.GetSpan(12);
        data.AsSpan(offset, 12).CopyTo(header);
        writer.Advance(12);
        offset += 12;
        var big = writer.GetMemory(200_000);
        Assert.That(big.Length, Is.GreaterThanOrEqualTo(200_000), "a PipeWriter hands out at least sizeHint");
        data.AsMemory(offset, 200_000).CopyTo(big);
        writer.Advance(200_000);
        offset += 200_000;
        await writer.FlushAsync();
        await writer.WriteAsync(data.AsMemory(offset));
        writer.Complete();

        var (plaintext, frames) = await ReadAllFramesAsync(raw.Reader);
        Assert.That(plaintext.AsSpan().SequenceEqual(data), Is.True);
        Assert.That(frames, Has.All.InRange(CipherState.TagSize, NoiseFraming.MaxMessageLength));
        Assert.That(frames, Has.Some.EqualTo(NoiseFraming.MaxMessageLength), "full frames are used");
    }

    [Test]
    public async Task SealedWritesKeepTheirOrderWithCopiedBytesAndSplitAtTheFrameLimit()
    {
        var raw = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var send = new CipherState();
        send.InitializeKey(Key);
        var writer = new NoiseEncryptingWriter(raw.Writer, send, () => null);
        var data = new byte[400_000];
        new Random(12).NextBytes(data);
        var offset = 0;
        // Header-like small writes, then payloads sealed from the caller's memory: below, at and above the direct
        // threshold and the frame limit, with small copied writes in between.
        foreach (var (size, sealed_) in new[] { (12, false), (100, true), (4095, true), (4096, true), (12, false), (65519, true),
                     (65520, true), (7, false), (200_000, true) })
        {
            if (sealed_) writer.WriteSealed(data.AsSpan(offset, size));
            else writer.Write(data.AsSpan(offset, size));
            offset += size;
        }
        await writer.WriteAsync(data.AsMemory(offset));
        writer.Complete();

        var (plaintext, frames) = await ReadAllFramesAsync(raw.Reader);
        Assert.That(plaintext.AsSpan().SequenceEqual(data), Is.True, "every byte once, in order");
        Assert.That(frames, Has.All.InRange(CipherState.TagSize, NoiseFraming.MaxMessageLength));
        Assert.That(frames, Has.Some.EqualTo(NoiseFraming.MaxMessageLength), "large sealed writes use full frames");
    }

    [Test]
    public async Task FlushWithNothingWrittenSendsNoFrame()
    {
        var raw = new Pipe();
        var send = new CipherState();
        send.InitializeKey(Key);
        var writer = new NoiseEncryptingWriter(raw.Writer, send, () => null);
        writer.GetSpan(100);
        await writer.FlushAsync();
        writer.Complete();
        var (plaintext, frames) = await ReadAllFramesAsync(raw.Reader);
        Assert.That(plaintext, Is.Empty);
        Assert.That(frames, Is.Empty);
    }

    [Test]
    public void WritesAfterTheConnectionFailedThrowIOException()
    {
        var raw = new Pipe();
        var send = new CipherState();
        send.InitializeKey(Key);
        Exception? failure = null;
        var writer = new NoiseEncryptingWriter(raw.Writer, send, () => failure);
        writer.GetSpan(5);
        failure = new IOException("gone");
        Assert.Throws<IOException>(() => writer.GetSpan(5));
        Assert.ThrowsAsync<IOException>(async () => await writer.FlushAsync());
        writer.Complete();
    }

    private static async Task<(byte[] Plaintext, List<int> Frames)> ReadAllFramesAsync(PipeReader reader)
    {
        using var receive = new CipherState();
        receive.InitializeKey(Key);
        var plaintext = new List<byte>();
        var frames = new List<int>();
        while (true)
        {
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            while (NoiseFraming.TryReadFrame(ref buffer, out var frame))
            {
                frames.Add((int)frame.Length);
                var opened = new byte[frame.Length - CipherState.TagSize];
                Assert.That(receive.TryDecryptWithAd(ReadOnlySpan<byte>.Empty, frame.ToArray(), opened, out _), Is.True);
                plaintext.AddRange(opened);
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                Assert.That(buffer.IsEmpty, Is.True, "stream ended inside a frame");
                return (plaintext.ToArray(), frames);
            }
        }
    }
}
