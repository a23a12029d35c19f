using KontinuumP2P.Net.Muxing;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Muxing;

/// <summary>
/// Issue #11 (found by the slow-stream test): a stream the application disposed waits for the remote's FIN at most
/// <see cref="YamuxOptions.StreamCloseTimeout"/>, then is reset and released, so a peer that never closes its side
/// cannot keep our streams counted for the life of the connection.
/// </summary>
public sealed class YamuxStreamCloseTimeoutTests
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromMinutes(5);

    [Test, CancelAfter(20_000)]
    public async Task A_disposed_stream_whose_remote_never_closes_is_reset_after_the_close_timeout(CancellationToken ct)
    {
        var clock = new FakeTimeProvider();
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: true,
            new YamuxOptions { PingOnStart = false, TimeProvider = clock, StreamCloseTimeout = CloseTimeout });
        await using var _ = session;
        var stream = await session.OpenStreamAsync(ct);
        await stream.Output.WriteAsync("x"u8.ToArray(), ct);
        var syn = await raw.ReadUntilAsync(h => (h.Flags & YamuxFlags.Syn) != 0, ct);
        var id = syn.Header.StreamId;
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, id, 0));

        await stream.DisposeAsync();
        await raw.ReadUntilAsync(h => h.StreamId == id && (h.Flags & YamuxFlags.Fin) != 0, ct);
        Assert.That(session.ActiveStreams, Is.EqualTo(1), "half-closed: our FIN sent, the remote's not received");

        clock.Advance(CloseTimeout - TimeSpan.FromSeconds(1));
        Assert.That(session.ActiveStreams, Is.EqualTo(1), "still inside the close timeout");
        clock.Advance(TimeSpan.FromSeconds(2));
        var reset = await raw.ReadUntilAsync(h => h.StreamId == id && (h.Flags & YamuxFlags.Rst) != 0, ct);
        Assert.That(reset.Header.Flags & YamuxFlags.Rst, Is.EqualTo(YamuxFlags.Rst));
        Assert.That(session.ActiveStreams, Is.Zero, "released once the close timeout passed");
    }

    [Test, CancelAfter(20_000)]
    public async Task A_stream_the_remote_closes_in_time_is_not_reset_later(CancellationToken ct)
    {
        var clock = new FakeTimeProvider();
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: true,
            new YamuxOptions { PingOnStart = false, TimeProvider = clock, StreamCloseTimeout = CloseTimeout });
        await using var _ = session;
        var stream = await session.OpenStreamAsync(ct);
        await stream.Output.WriteAsync("x"u8.ToArray(), ct);
        var id = (await raw.ReadUntilAsync(h => (h.Flags & YamuxFlags.Syn) != 0, ct)).Header.StreamId;
        await stream.DisposeAsync();
        await raw.ReadUntilAsync(h => h.StreamId == id && (h.Flags & YamuxFlags.Fin) != 0, ct);
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.WindowUpdate, YamuxFlags.Ack | YamuxFlags.Fin, id, 0));
        await YamuxTestData.EventuallyAsync(() => session.ActiveStreams == 0, TimeSpan.FromSeconds(10), ct);

        clock.Advance(CloseTimeout * 2);
        // The next frame the session writes is the answer to our ping, not a late RST.
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 42));
        var next = await raw.ReadFrameAsync(ct);
        Assert.That(next?.Header.Type, Is.EqualTo(YamuxFrameType.Ping));
    }
}
