using KontinuumP2P.Net.Muxing;

namespace KontinuumP2P.Net.Tests.Muxing;

/// <summary>Hand-made bad frames: each must make the session answer GoAway(protocol error) and end.</summary>
public sealed class YamuxProtocolErrorTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static async Task AssertProtocolErrorAsync(YamuxSession session, RawYamuxPeer raw, CancellationToken ct)
    {
        var frames = await raw.ReadToEndAsync(ct).WaitAsync(Bound, ct);
        await session.Completion.WaitAsync(Bound, ct);
        Assert.That(frames, Is.Not.Empty);
        Assert.That(frames[^1], Is.EqualTo(YamuxHeader.Create(YamuxFrameType.GoAway, YamuxFlags.None, 0,
            (uint)YamuxGoAwayCode.ProtocolError)), "the last frame is GoAway(1), then the connection closes");
        Assert.That(session.ActiveStreams, Is.Zero);
    }

    [Test, CancelAfter(20_000)]
    public async Task DataBeyondTheWindowEndsTheSession(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: false);
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        var accepted = (await session.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;
        // 200 KiB fits; another 100 KiB without a window update does not (256 KiB granted in all).
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.Data, YamuxFlags.None, 1, 200 * 1024), new byte[200 * 1024]);
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.Data, YamuxFlags.None, 1, 100 * 1024), new byte[100 * 1024]);
        await AssertProtocolErrorAsync(session, raw, ct);
        Assert.ThrowsAsync<Core.Network.StreamResetException>(async () =>
        {
            while (true)
            {
                var r = await accepted.Input.ReadAsync(ct);
                accepted.Input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted) return;
            }
        });
    }

    [Test, CancelAfter(20_000)]
    public async Task OneOversizedDataFrameIsRejectedBeforeItsPayloadIsRead(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: false);
        long before = GC.GetTotalMemory(true);
        // Announce 4 GiB - 1 of payload and send none of it: the header alone must end the session.
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.Data, YamuxFlags.Syn, 1, uint.MaxValue));
        await AssertProtocolErrorAsync(session, raw, ct);
        long grown = GC.GetTotalMemory(true) - before;
        TestContext.Out.WriteLine($"heap growth after a 4 GiB length header: {grown} B");
        Assert.That(grown, Is.LessThan(1 << 20));
    }

    [TestCase(false, 2u)]
    [TestCase(true, 1u)]
    [CancelAfter(20_000)]
    public async Task SynWithOurOwnParityEndsTheSession(bool sessionIsClient, uint id, CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient);
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, id, 0));
        await AssertProtocolErrorAsync(session, raw, ct);
    }

    [TestCase(0, "Data")]
    [TestCase(1, "WindowUpdate")]
    [CancelAfter(20_000)]
    public async Task StreamFramesOnStreamZeroEndTheSession(int type, string name, CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: false);
        await raw.SendAsync(YamuxHeader.Create((YamuxFrameType)type, YamuxFlags.None, 0, 0));
        await AssertProtocolErrorAsync(session, raw, ct);
    }

    [TestCase("000400000000000000000000", TestName = "UnknownFrameTypeEndsTheSession")]
    [TestCase("010200010000000000000000", TestName = "BadVersionEndsTheSession")]
    [TestCase("000200010000000500000000", TestName = "PingOnAStreamEndsTheSession")]
    [TestCase("000300000000000300000000", TestName = "GoAwayOnAStreamEndsTheSession")]
    [TestCase("000200020000000000000007", TestName = "UnsolicitedPingAckEndsTheSession")]
    [TestCase("000200030000000000000007", TestName = "PingWithSynAndAckEndsTheSession")]
    [CancelAfter(20_000)]
    public async Task MalformedSessionFrames(string hex, CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: false);
        await raw.SendRawAsync(Convert.FromHexString(hex));
        await AssertProtocolErrorAsync(session, raw, ct);
    }

    [Test, CancelAfter(20_000)]
    public async Task FramesForUnknownStreamsAreDroppedQuietly(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: false);
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.Data, YamuxFlags.None, 41, 5), "hello"u8.ToArray());
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, 43, 100));
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 99));
        var pong = await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        Assert.That(pong?.Header, Is.EqualTo(YamuxHeader.Create(YamuxFrameType.Ping, YamuxFlags.Ack, 0, 99)),
            "nothing but the pong comes back");
        Assert.That(session.Completion.IsCompleted, Is.False);
        session.Abort();
        await session.Completion.WaitAsync(Bound, ct);
    }
}
