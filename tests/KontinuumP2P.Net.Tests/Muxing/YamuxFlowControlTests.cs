using System.Diagnostics;
using KontinuumP2P.Net.Muxing;

namespace KontinuumP2P.Net.Tests.Muxing;

public sealed class YamuxFlowControlTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Test, CancelAfter(30_000)]
    public async Task WriterBlocksAtTheWindowWhenThePeerNeverReads(CancellationToken ct)
    {
        var options = new YamuxOptions { PingOnStart = false };
        await using var pair = YamuxPair.Create(options, options);
        var client = (YamuxStream)await pair.Client.OpenStreamAsync(ct);
        const int total = 8 << 20;
        long accepted = 0;
        var writer = Task.Run(async () =>
        {
            var chunk = new byte[16 * 1024];
            for (int offset = 0; offset < total; offset += chunk.Length)
            {
                YamuxTestData.Fill(chunk, 7, offset);
                await client.Output.WriteAsync(chunk, ct);
                Interlocked.Add(ref accepted, chunk.Length);
            }
            await client.Output.CompleteAsync();
        }, ct);
        var server = (YamuxStream)(await pair.Server.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;

        // Wait until the writer stops making progress.
        long last = -1;
        while (Interlocked.Read(ref accepted) != last)
        {
            last = Interlocked.Read(ref accepted);
            await Task.Delay(300, ct);
        }
        long memoryBound = YamuxOptions.SpecInitialWindow + options.StreamSendBufferSize + 16 * 1024;
        TestContext.Out.WriteLine(
            $"stalled writer: accepted {last} B, peer buffered {server.BufferedBytes} B, send credit {client.SendCredit}");
        Assert.Multiple(() =>
        {
            Assert.That(writer.IsCompleted, Is.False, "the writer waits for credit");
            Assert.That(server.BufferedBytes, Is.EqualTo(YamuxOptions.SpecInitialWindow), "the receiver buffers exactly the window");
            Assert.That(client.SendCredit, Is.Zero);
            Assert.That(last, Is.LessThanOrEqualTo(memoryBound), "bytes held by the muxer stay within window + send buffer");
        });

        // Once the peer reads, everything arrives intact.
        long all = await YamuxTestData.VerifyPatternAsync(server.Input, 7, ct).WaitAsync(Bound, ct);
        await writer.WaitAsync(Bound, ct);
        Assert.That(all, Is.EqualTo(total), "all bytes arrive intact and in order");
    }

    [Test, CancelAfter(30_000)]
    public async Task ReceiveWindowGrowsUpToTheMaximumForAFastReader(CancellationToken ct)
    {
        var options = new YamuxOptions { MaxStreamWindow = 1 << 20 };
        await using var pair = YamuxPair.Create(options, options);
        await YamuxTestData.EventuallyAsync(() => pair.Server.RoundTripTime > TimeSpan.Zero, Bound, ct);
        var client = await pair.Client.OpenStreamAsync(ct);
        var write = YamuxTestData.WritePatternAsync(client.Output, 1, 32 << 20, 256 * 1024, ct);
        var server = (YamuxStream)(await pair.Server.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;
        long maxWindow = 0;
        long maxBuffered = 0;
        while (true)
        {
            var result = await server.Input.ReadAsync(ct);
            maxBuffered = Math.Max(maxBuffered, result.Buffer.Length);
            server.Input.AdvanceTo(result.Buffer.End);
            maxWindow = Math.Max(maxWindow, server.ReceiveWindow);
            if (result.IsCompleted) break;
        }
        await write.WaitAsync(Bound, ct);
        TestContext.Out.WriteLine($"window grew to {maxWindow} B (rtt {pair.Server.RoundTripTime}), max buffered {maxBuffered} B");
        Assert.That(maxWindow, Is.GreaterThanOrEqualTo((long)YamuxOptions.SpecInitialWindow).And.LessThanOrEqualTo(1 << 20));
        Assert.That(maxBuffered, Is.LessThanOrEqualTo(maxWindow), "never more buffered than granted");
    }

    [Test, CancelAfter(60_000)]
    public async Task SingleStreamThroughput(CancellationToken ct)
    {
        const int total = 256 << 20;
        await using var pair = YamuxPair.Create();
        var client = await pair.Client.OpenStreamAsync(ct);
        var chunk = new byte[64 * 1024];
        YamuxTestData.Fill(chunk, 3, 0);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        var write = Task.Run(async () =>
        {
            for (int sent = 0; sent < total; sent += chunk.Length) await client.Output.WriteAsync(chunk, ct);
            await client.Output.CompleteAsync();
        }, ct);
        var server = (await pair.Server.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;
        long received = 0;
        while (true)
        {
            var result = await server.Input.ReadAsync(ct);
            received += result.Buffer.Length;
            server.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) break;
        }
        await write.WaitAsync(Bound, ct);
        stopwatch.Stop();
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        double mbps = total / stopwatch.Elapsed.TotalSeconds / (1 << 20);
        TestContext.Out.WriteLine($"yamux one stream over in-memory pipes: {mbps:F0} MiB/s " +
            $"({total >> 20} MiB in {stopwatch.ElapsedMilliseconds} ms wall, {cpu.TotalMilliseconds:F0} ms CPU for both sides)");
        Assert.That(received, Is.EqualTo(total));
    }
}
