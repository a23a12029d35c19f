using System.Buffers;
using System.IO.Pipelines;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Net.Tests.Muxing;

/// <summary>Two yamux sessions joined by an in-memory connection pair.</summary>
internal sealed class YamuxPair : IAsyncDisposable
{
    private YamuxPair(YamuxSession client, YamuxSession server)
    {
        Client = client;
        Server = server;
    }

    public YamuxSession Client { get; }

    public YamuxSession Server { get; }

    public static YamuxPair Create(YamuxOptions? clientOptions = null, YamuxOptions? serverOptions = null)
    {
        var (dialer, listener) = ConnectionPair.Create();
        return new YamuxPair(new YamuxSession(dialer, isClient: true, clientOptions),
            new YamuxSession(listener, isClient: false, serverOptions));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Abort();
        Server.Abort();
        await Task.WhenAll(Client.Completion, Server.Completion).WaitAsync(TimeSpan.FromSeconds(10));
    }
}

/// <summary>A hand-driven yamux peer: writes raw frames and reads the session's frames byte for byte.</summary>
internal sealed class RawYamuxPeer(ITransportConnection connection)
{
    public static (YamuxSession Session, RawYamuxPeer Raw) Create(bool sessionIsClient, YamuxOptions? options = null,
        PipeOptions? pipeOptions = null, YamuxMetrics? metrics = null)
    {
        var (dialer, listener) = ConnectionPair.Create(pipeOptions);
        var sessionSide = sessionIsClient ? dialer : listener;
        var rawSide = sessionIsClient ? listener : dialer;
        options ??= new YamuxOptions { PingOnStart = false };
        return (new YamuxSession(sessionSide, sessionIsClient, options, metrics: metrics), new RawYamuxPeer(rawSide));
    }

    public ITransportConnection Connection { get; } = connection;

    public async Task SendAsync(YamuxHeader header, ReadOnlyMemory<byte> payload = default)
    {
        header.WriteTo(Connection.Output);
        if (!payload.IsEmpty) Connection.Output.Write(payload.Span);
        await Connection.Output.FlushAsync();
    }

    public async Task SendRawAsync(byte[] bytes)
    {
        Connection.Output.Write(bytes);
        await Connection.Output.FlushAsync();
    }

    /// <summary>Reads the next frame with its payload, or null at the end of the connection.</summary>
    public async Task<(YamuxHeader Header, byte[] Payload)?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        var input = Connection.Input;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var start = buffer;
            if (YamuxHeader.TryRead(ref buffer, out var header))
            {
                long payloadLength = header.Type == YamuxFrameType.Data ? header.Length : 0;
                if (buffer.Length >= payloadLength)
                {
                    var payload = buffer.Slice(0, payloadLength).ToArray();
                    input.AdvanceTo(buffer.GetPosition(payloadLength));
                    return (header, payload);
                }
            }
            if (result.IsCompleted)
            {
                input.AdvanceTo(start.End);
                return null;
            }
            input.AdvanceTo(start.Start, start.End);
        }
    }

    /// <summary>Reads frames until one matches, returning it; fails on the end of the connection.</summary>
    public async Task<(YamuxHeader Header, byte[] Payload)> ReadUntilAsync(Func<YamuxHeader, bool> match,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            var frame = await ReadFrameAsync(cancellationToken) ?? throw new IOException("connection ended");
            if (match(frame.Header)) return frame;
        }
    }

    /// <summary>Reads every remaining frame until the session closes its side.</summary>
    public async Task<List<YamuxHeader>> ReadToEndAsync(CancellationToken cancellationToken)
    {
        var frames = new List<YamuxHeader>();
        while (await ReadFrameAsync(cancellationToken) is { } frame) frames.Add(frame.Header);
        return frames;
    }
}

internal static class YamuxTestData
{
    /// <summary>Byte <paramref name="position"/> of stream <paramref name="seed"/>'s test content.</summary>
    public static byte At(int seed, long position) =>
        (byte)(((position ^ (position >> 8) ^ (position >> 16)) * 13) + seed * 7);

    /// <summary>
    /// Writes <paramref name="length"/> bytes of generated content straight into the writer, then completes it. The
    /// content is generated, not copied from big arrays, so tests measure the muxer and not page faults.
    /// </summary>
    public static async Task WritePatternAsync(PipeWriter output, int seed, long length, int chunk, CancellationToken ct)
    {
        for (long position = 0; position < length;)
        {
            int n = (int)Math.Min(chunk, length - position);
            Fill(output.GetSpan(n)[..n], seed, position);
            output.Advance(n);
            position += n;
            await output.FlushAsync(ct);
        }
        await output.CompleteAsync();
    }

    public static void Fill(Span<byte> span, int seed, long position)
    {
        for (int i = 0; i < span.Length; i++) span[i] = At(seed, position + i);
    }

    /// <summary>Reads to the end checking every byte against the generated content; the length, or -1 on a mismatch.</summary>
    public static async Task<long> VerifyPatternAsync(PipeReader input, int seed, CancellationToken ct)
    {
        long position = 0;
        bool intact = true;
        while (true)
        {
            var result = await input.ReadAsync(ct);
            foreach (var segment in result.Buffer)
            {
                if (intact) intact = Matches(segment.Span, seed, position);
                position += segment.Length;
            }
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) break;
        }
        await input.CompleteAsync();
        return intact ? position : -1;
    }

    private static bool Matches(ReadOnlySpan<byte> span, int seed, long position)
    {
        for (int i = 0; i < span.Length; i++)
        {
            if (span[i] != At(seed, position + i)) return false;
        }
        return true;
    }

    public static async Task<byte[]> ReadToEndAsync(PipeReader input, CancellationToken ct)
    {
        var collected = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await input.ReadAsync(ct);
            foreach (var segment in result.Buffer) collected.Write(segment.Span);
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) break;
        }
        await input.CompleteAsync();
        return collected.WrittenSpan.ToArray();
    }

    public static async Task EventuallyAsync(Func<bool> condition, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return;
            await Task.Delay(10, ct);
        }
    }
}
