using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Security.Noise;
using KontinuumP2P.Net.Tests.Muxing;

namespace KontinuumP2P.Net.Tests.Security;

/// <summary>The receiving half: decryption on the reader's thread, and frames opened straight into a caller's buffer.</summary>
public sealed class NoiseDecryptingReaderTests
{
    private static readonly byte[] Key = Enumerable.Range(7, 32).Select(i => (byte)i).ToArray();

    [Test]
    public async Task PlaintextAndDirectReadsTogetherYieldEveryByteOnceInOrder()
    {
        var data = new byte[600_000];
        new Random(21).NextBytes(data);
        var sealedBytes = Seal(data, [12, 65519, 3, 70_000, 40_000, 12, 200_000]);
        // The raw input arrives in odd pieces, so frames straddle segments.
        var raw = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: 4096, useSynchronizationContext: false));
        Exception? failure = null;
        var reader = NewReader(raw.Reader, e => failure ??= e, () => failure);
        // All of it is written before reading (the pipe never pauses), so which frames are whole at each read is fixed.
        await FeedAsync(raw.Writer, sealedBytes, 9_999);

        var received = new MemoryStream();
        var direct = new byte[NoiseFraming.MaxPlaintextLength];
        for (var round = 0; ; round++)
        {
            // Every other round takes up to two whole frames directly while nothing is buffered as plaintext.
            for (var taken = 0; round % 2 == 1 && taken < 2 && reader.TryPeekFrame(long.MaxValue, out var length); taken++)
            {
                reader.OpenFrameInto(direct);
                received.Write(direct, 0, length);
            }
            var result = await reader.ReadAsync();
            foreach (var segment in result.Buffer) received.Write(segment.Span);
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) break;
        }
        Assert.That(received.ToArray().AsSpan().SequenceEqual(data), Is.True);
        Assert.That(failure, Is.Null);
        Assert.That(reader.FramesDirect, Is.GreaterThan(0), "whole frames were opened directly");
        Assert.That(reader.FramesBuffered, Is.GreaterThan(1), "and others through the plaintext pipe");
        reader.Complete();
    }

    [Test]
    public async Task PeekRespectsTheLimitAndLeavesTheFrameForTheNextRead()
    {
        var raw = new Pipe();
        var reader = NewReader(raw.Reader, _ => { }, () => null);
        await raw.Writer.WriteAsync(Seal(new byte[1000], [1000]));
        Assert.That(reader.TryPeekFrame(999, out _), Is.False, "a frame larger than the caller's payload is not taken");
        Assert.That(reader.TryPeekFrame(1000, out var length), Is.True);
        Assert.That(length, Is.EqualTo(1000));
        var destination = new byte[1000];
        reader.OpenFrameInto(destination);
        Assert.That(reader.TryPeekFrame(long.MaxValue, out _), Is.False, "nothing more has arrived");
        raw.Writer.Complete();
        var end = await reader.ReadAsync();
        Assert.That(end.IsCompleted && end.Buffer.IsEmpty, Is.True);
        reader.Complete();
    }

    [Test]
    public async Task ATamperedFrameOpenedDirectlyFailsTheConnectionAndLaterReads()
    {
        var sealedBytes = Seal(new byte[5000], [5000]);
        sealedBytes[100] ^= 1;
        var raw = new Pipe();
        Exception? failure = null;
        var reader = NewReader(raw.Reader, e => failure ??= e, () => failure);
        await raw.Writer.WriteAsync(sealedBytes);
        Assert.That(reader.TryPeekFrame(long.MaxValue, out _), Is.True);
        Assert.Throws<AuthenticationTagMismatchException>(() => reader.OpenFrameInto(new byte[5000]));
        Assert.That(failure, Is.InstanceOf<AuthenticationTagMismatchException>());
        Assert.ThrowsAsync<AuthenticationTagMismatchException>(async () => await reader.ReadAsync());
        reader.Complete();
    }

    [Test]
    public async Task AnInputEndingInsideAFrameFailsTheRead()
    {
        var sealedBytes = Seal(new byte[300], [300]);
        var raw = new Pipe();
        Exception? failure = null;
        var reader = NewReader(raw.Reader, e => failure ??= e, () => failure);
        await raw.Writer.WriteAsync(sealedBytes.AsMemory(0, sealedBytes.Length - 1));
        raw.Writer.Complete();
        Assert.ThrowsAsync<InvalidDataException>(async () => await reader.ReadAsync());
        Assert.That(failure, Is.InstanceOf<InvalidDataException>());
        reader.Complete();
    }

    [Test]
    public async Task YamuxOverNoiseCarriesBulkPayloadFramesStraightIntoTheStream()
    {
        await using var hosts = new NoiseTestHosts();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var (dialer, listener) = await hosts.ConnectAsync(hosts.ListenerIdentity.PeerId, timeout.Token);
        var client = new YamuxSession(dialer, isClient: true);
        var server = new YamuxSession(listener, isClient: false);
        try
        {
            const long length = 8L << 20;
            var stream = await client.OpenStreamAsync(timeout.Token);
            var writing = YamuxTestData.WritePatternAsync(stream.Output, seed: 5, length, chunk: 100_000, timeout.Token);
            var accepted = await server.AcceptStreamAsync(timeout.Token);
            Assert.That(accepted, Is.Not.Null);
            var verified = await YamuxTestData.VerifyPatternAsync(accepted!.Input, seed: 5, timeout.Token);
            await writing;
            Assert.That(verified, Is.EqualTo(length));
            var reader = (NoiseDecryptingReader)listener.Input;
            // 8 MiB is about 130 full frames; the Yamux headers and the frames they share arrive through the plaintext pipe.
            Assert.That(reader.FramesDirect, Is.GreaterThan(64), $"direct {reader.FramesDirect}, buffered {reader.FramesBuffered}");
        }
        finally
        {
            client.Abort();
            server.Abort();
            await Task.WhenAll(client.Completion, server.Completion).WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Test]
    public async Task PayloadFramesArrivingAfterTheReadLoopCaughtUpStillGoStraightIntoTheStream()
    {
        // One Yamux Data frame (its header in a Noise frame of its own, as our writer sends it) whose four payload frames
        // arrive one by one, each after the stream's reader has had the one before: the read loop has caught up with the
        // input every time. Each must still be opened straight into the stream, not into the plaintext buffer first.
        const int frame = NoiseFraming.MaxPlaintextLength;
        var payload = new byte[4 * frame];
        new Random(3).NextBytes(payload);
        var sealedOut = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var sealing = new CipherState();
        sealing.InitializeKey(Key);
        var sender = new NoiseEncryptingWriter(sealedOut.Writer, sealing, () => null);
        YamuxHeader.Create(YamuxFrameType.Data, YamuxFlags.Syn, 1, (uint)payload.Length).WriteTo(sender);
        await sender.FlushAsync();
        var frames = new List<byte[]> { TakeAll(sealedOut.Reader) };
        for (var i = 0; i < 4; i++)
        {
            sender.WriteSealed(payload.AsSpan(i * frame, frame));
            await sender.FlushAsync();
            frames.Add(TakeAll(sealedOut.Reader));
        }

        var raw = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var output = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        Exception? failure = null;
        var reader = NewReader(raw.Reader, e => failure ??= e, () => failure);
        var session = new YamuxSession(new DuplexPipe(reader, output.Writer), isClient: false);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await raw.Writer.WriteAsync(frames[0].Concat(frames[1]).ToArray(), timeout.Token);
            var stream = await session.AcceptStreamAsync(timeout.Token);
            Assert.That(stream, Is.Not.Null);
            var received = new MemoryStream();
            for (var next = 2; received.Length < payload.Length;)
            {
                var result = await stream!.Input.ReadAsync(timeout.Token);
                foreach (var segment in result.Buffer) received.Write(segment.Span);
                stream.Input.AdvanceTo(result.Buffer.End);
                // The next frame is sent only once everything before it has reached the reader.
                if (received.Length == (next - 1) * (long)frame && next < frames.Count)
                    await raw.Writer.WriteAsync(frames[next++], timeout.Token);
            }
            Assert.That(received.ToArray().AsSpan().SequenceEqual(payload), Is.True);
            Assert.That(failure, Is.Null);
            Assert.That((reader.FramesDirect, reader.FramesBuffered), Is.EqualTo((4L, 1L)),
                "the four payload frames go straight into the stream, only the header's frame through the plaintext buffer");
        }
        finally
        {
            session.Abort();
            await session.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    private static byte[] TakeAll(PipeReader reader)
    {
        Assert.That(reader.TryRead(out var result), Is.True);
        var bytes = result.Buffer.ToArray();
        reader.AdvanceTo(result.Buffer.End);
        return bytes;
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    private static NoiseDecryptingReader NewReader(PipeReader raw, Action<Exception> fail, Func<Exception?> failure)
    {
        var cipher = new CipherState();
        cipher.InitializeKey(Key);
        return new NoiseDecryptingReader(raw, cipher, fail, failure);
    }

    // Frames as NoiseEncryptingWriter makes them: small writes copied, larger ones sealed from the caller's memory.
    private static byte[] Seal(byte[] data, int[] sizes)
    {
        var raw = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var cipher = new CipherState();
        cipher.InitializeKey(Key);
        var writer = new NoiseEncryptingWriter(raw.Writer, cipher, () => null);
        var offset = 0;
        for (var i = 0; offset < data.Length; i++)
        {
            var size = Math.Min(sizes[i % sizes.Length], data.Length - offset);
            if (i % 2 == 0) writer.Write(data.AsSpan(offset, size));
            else writer.WriteSealed(data.AsSpan(offset, size));
            offset += size;
        }
        writer.Complete();
        raw.Reader.TryRead(out var result);
        return result.Buffer.ToArray();
    }

    private static async Task FeedAsync(PipeWriter writer, byte[] bytes, int piece)
    {
        for (var offset = 0; offset < bytes.Length; offset += piece)
        {
            await writer.WriteAsync(bytes.AsMemory(offset, Math.Min(piece, bytes.Length - offset)));
        }
        await writer.CompleteAsync();
    }
}
