using System.Buffers;
using System.IO.Pipelines;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Net.Tests.Transports;

/// <summary>The TCP send side's bounds: a peer that stops reading holds the writer's flush; cancelling it loses nothing.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class TcpBackpressureTests
{
    private const int Chunk = 256 * 1024;

    [Test]
    public async Task A_peer_that_stops_reading_holds_the_flush_and_cancelled_flushes_still_deliver_in_order(CancellationToken ct)
    {
        var (listener, dialed, accepted) = await ConnectAsync(ct);
        await using var _ = listener;
        await using var __ = dialed;
        await using var ___ = accepted;
        var written = new MemoryStream();
        // Fill the kernel's buffers, the peer's receive pipe and our send pipe; bounded at 256 MiB in case no
        // backpressure shows.
        ValueTask<FlushResult> pending = default;
        for (int i = 0; i < 1024 && pending.IsCompleted; i++)
        {
            var data = TransportTestKit.Pattern(Chunk, i);
            dialed.Output.Write(data.AsSpan());
            written.Write(data);
            pending = dialed.Output.FlushAsync(ct);
            if (pending.IsCompleted) await pending;
        }
        Assert.That(pending.IsCompleted, Is.False, "a flush waits once the peer stops reading");

        // CancelPendingFlush ends the wait, not the send.
        dialed.Output.CancelPendingFlush();
        var cancelled = await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.That(cancelled.IsCanceled, Is.True);

        // A flush whose token fires throws; its bytes still follow the earlier ones.
        var more = TransportTestKit.Pattern(Chunk, 5000);
        dialed.Output.Write(more.AsSpan());
        written.Write(more);
        using (var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            var waiting = dialed.Output.FlushAsync(cancel.Token);
            // Still backed up unless the send pump made room meanwhile; either way the bytes stay queued in order.
            if (!waiting.IsCompleted)
            {
                await cancel.CancelAsync();
                Assert.That(async () => await waiting, Throws.InstanceOf<OperationCanceledException>());
            }
            else
            {
                await waiting;
            }
        }

        // Once the peer reads, everything arrives once and in order, and a last flush completes normally.
        var expected = written.ToArray();
        var read = Task.Run(() => TransportTestKit.ReadExactlyAsync(accepted.Input, expected.Length, ct), ct);
        var last = await dialed.Output.FlushAsync(ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.That(last.IsCanceled || last.IsCompleted, Is.False);
        var received = await read.WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.That(received.AsSpan().SequenceEqual(expected), "every byte once, in order");

        // A clean completion still half-closes after the last byte.
        await dialed.Output.CompleteAsync();
        var end = await accepted.Input.ReadAsync(ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.That(end.IsCompleted && end.Buffer.IsEmpty, Is.True, "FIN after the data");
        Assert.That(((ITransportStatistics)dialed).BytesSent, Is.EqualTo(expected.Length));
    }

    [Test]
    public async Task Abort_ends_a_flush_that_waits_on_a_full_socket(CancellationToken ct)
    {
        var (listener, dialed, accepted) = await ConnectAsync(ct);
        await using var _ = listener;
        await using var __ = dialed;
        await using var ___ = accepted;
        var data = TransportTestKit.Pattern(Chunk, 1);
        ValueTask<FlushResult> pending = default;
        for (int i = 0; i < 1024 && pending.IsCompleted; i++)
        {
            dialed.Output.Write(data.AsSpan());
            pending = dialed.Output.FlushAsync(ct);
            if (pending.IsCompleted) await pending;
        }
        Assert.That(pending.IsCompleted, Is.False, "a flush waits once the peer stops reading");
        dialed.Abort();
        Assert.That(await EndOfFlushAsync(() => pending).WaitAsync(TimeSpan.FromSeconds(30), ct), Is.EqualTo("ended"),
            "the connection is gone: the flush says so instead of hanging");
        Assert.That(await EndOfFlushAsync(() =>
        {
            dialed.Output.Write(data.AsSpan());
            return dialed.Output.FlushAsync(ct);
        }), Is.EqualTo("ended"), "later writes too");
    }

    // "ended" when the flush reports the reader gone (IsCompleted) or fails with the connection's IOException.
    private static async Task<string> EndOfFlushAsync(Func<ValueTask<FlushResult>> flush)
    {
        try
        {
            return (await flush()).IsCompleted ? "ended" : "still open";
        }
        catch (IOException)
        {
            return "ended";
        }
    }

    private static async Task<(IAsyncDisposable Listener, ITransportConnection Dialed, ITransportConnection Accepted)> ConnectAsync(
        CancellationToken ct)
    {
        var transport = new TcpTransport();
        var listener = await transport.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"), ct);
        var accept = listener.AcceptAsync(ct).AsTask();
        var dialed = await transport.DialAsync(listener.ListenAddress, ct);
        return (listener, dialed, await accept);
    }
}
