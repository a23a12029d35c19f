using System.IO.Pipelines;
using KontinuumP2P.Net.Muxing;

namespace KontinuumP2P.Net.Tests.Muxing;

/// <summary>Floods from a hostile peer: stream limits, accept backlog, control-frame backpressure.</summary>
public sealed class YamuxLimitsTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static YamuxHeader Syn(uint id) => YamuxHeader.Create(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, id, 0);

    private static byte[] Syns(uint firstId, int count)
    {
        var bytes = new byte[count * YamuxHeader.Size];
        for (int i = 0; i < count; i++) Syn(firstId + 2 * (uint)i).Write(bytes.AsSpan(i * YamuxHeader.Size));
        return bytes;
    }

    /// <summary>Sends a ping and collects the frames before its pong: everything the session said about earlier frames.</summary>
    private static async Task<List<YamuxHeader>> SyncAsync(RawYamuxPeer raw, uint opaque, CancellationToken ct)
    {
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.Ping, YamuxFlags.Syn, 0, opaque));
        var frames = new List<YamuxHeader>();
        while (true)
        {
            var frame = await raw.ReadFrameAsync(ct) ?? throw new IOException("session closed the connection");
            if (frame.Header is { Type: YamuxFrameType.Ping, Flags: YamuxFlags.Ack } pong && pong.Length == opaque) return frames;
            frames.Add(frame.Header);
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task TenThousandSynsWithoutAcceptingFillOnlyTheBacklog(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: false);
        long before = GC.GetTotalMemory(true);
        await raw.SendRawAsync(Syns(1, 10_000));
        var replies = await SyncAsync(raw, 1, ct).WaitAsync(Bound, ct);
        long grown = GC.GetTotalMemory(true) - before;
        TestContext.Out.WriteLine($"10,000 SYNs, none accepted: {session.ActiveStreams} streams kept, {replies.Count} RST, heap +{grown / 1024} KiB");
        Assert.Multiple(() =>
        {
            Assert.That(session.ActiveStreams, Is.EqualTo(256), "the accept backlog holds 256 unacknowledged streams");
            Assert.That(replies, Has.Count.EqualTo(10_000 - 256));
            Assert.That(replies, Has.All.Matches<YamuxHeader>(h =>
                h.Type == YamuxFrameType.WindowUpdate && h.Flags == YamuxFlags.Rst && h.StreamId > 2 * 256));
            Assert.That(grown, Is.LessThan(8L << 20), "memory stays bounded");
            Assert.That(session.Completion.IsCompleted, Is.False, "refusing streams is not a session error");
        });
        session.Abort();
        await session.Completion.WaitAsync(Bound, ct);
    }

    [Test, CancelAfter(60_000)]
    public async Task TenThousandSynsWhileAcceptingStopAtTheStreamCap(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: false);
        int acceptedCount = 0;
        var acceptLoop = Task.Run(async () =>
        {
            while (await session.AcceptStreamAsync(ct) is not null) Interlocked.Increment(ref acceptedCount);
        }, ct);
        long before = GC.GetTotalMemory(true);
        var refused = new List<YamuxHeader>();
        const int batch = 200;
        for (int sent = 0; sent < 10_000; sent += batch)
        {
            await raw.SendRawAsync(Syns(1 + 2 * (uint)sent, batch));
            refused.AddRange((await SyncAsync(raw, (uint)sent, ct).WaitAsync(Bound, ct))
                .Where(h => (h.Flags & YamuxFlags.Rst) != 0));
            int expected = Math.Min(sent + batch, 1000);
            await YamuxTestData.EventuallyAsync(() => Volatile.Read(ref acceptedCount) >= expected, Bound, ct);
        }
        long grown = GC.GetTotalMemory(true) - before;
        TestContext.Out.WriteLine($"10,000 SYNs, accepting: {acceptedCount} accepted, {refused.Count} RST, heap +{grown / 1024} KiB");
        Assert.Multiple(() =>
        {
            Assert.That(acceptedCount, Is.EqualTo(1000), "the default cap of 1000 inbound streams");
            Assert.That(session.ActiveStreams, Is.EqualTo(1000));
            Assert.That(refused, Has.Count.EqualTo(9000));
            Assert.That(refused.Min(h => h.StreamId), Is.EqualTo(2001u), "the first 1000 ids were taken, the rest refused");
            Assert.That(grown, Is.LessThan(32L << 20), "memory stays bounded");
        });
        session.Abort();
        await session.Completion.WaitAsync(Bound, ct);
        await acceptLoop.WaitAsync(Bound, ct);
    }

    [Test, CancelAfter(60_000)]
    public async Task ConfiguredInboundCapRefusesTheRest(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(false, new YamuxOptions { PingOnStart = false, MaxInboundStreams = 100 });
        await raw.SendRawAsync(Syns(1, 10_000));
        var replies = await SyncAsync(raw, 1, ct).WaitAsync(Bound, ct);
        Assert.That(session.ActiveStreams, Is.EqualTo(100));
        Assert.That(replies.Select(h => h.StreamId), Is.EqualTo(Enumerable.Range(100, 9900).Select(i => (uint)(2 * i + 1))));
        session.Abort();
        await session.Completion.WaitAsync(Bound, ct);
    }

    [Test, CancelAfter(60_000)]
    public async Task PingFloodFromAPeerThatNeverReadsIsBackpressured(CancellationToken ct)
    {
        // Small connection buffers: the session's pongs fill them quickly when the peer does not read.
        var pipeOptions = new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024,
            useSynchronizationContext: false);
        var (session, raw) = RawYamuxPeer.Create(false, new YamuxOptions { PingOnStart = false, MaxPendingControlFrames = 64 },
            pipeOptions);
        const int pings = 50_000;
        var flood = new byte[pings * YamuxHeader.Size];
        for (int i = 0; i < pings; i++)
            YamuxHeader.Create(YamuxFrameType.Ping, YamuxFlags.Syn, 0, (uint)i).Write(flood.AsSpan(i * YamuxHeader.Size));
        var sender = Task.Run(() => raw.SendRawAsync(flood), ct);
        // Wait (on data, not on the clock) until the session's unread pongs reach the pause threshold: from then on
        // its writer is paused, so it takes at most MaxPendingControlFrames more pings and then stops reading.
        var input = raw.Connection.Input;
        while (true)
        {
            var peek = await input.ReadAsync(ct).AsTask().WaitAsync(Bound, ct);
            var buffered = peek.Buffer.Length;
            input.AdvanceTo(peek.Buffer.Start, peek.Buffer.End);
            if (buffered >= 64 * 1024) break;
        }
        Assert.That(sender.IsCompleted, Is.False, "the session stopped reading: 600 KB of pings cannot all be taken");
        Assert.That(session.Completion.IsCompleted, Is.False);

        int pongs = 0;
        uint expected = 0;
        bool ordered = true;
        while (pongs < pings)
        {
            var frame = await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct) ?? throw new IOException("closed");
            ordered &= frame.Header.Type == YamuxFrameType.Ping && frame.Header.Flags == YamuxFlags.Ack &&
                       frame.Header.Length == expected++;
            pongs++;
        }
        await sender.WaitAsync(Bound, ct);
        Assert.That(ordered, Is.True, "every ping answered once, in order");
        session.Abort();
        await session.Completion.WaitAsync(Bound, ct);
    }

    [Test]
    public void A_host_limit_lowers_the_sessions_inbound_limit_and_keeps_every_other_setting()
    {
        var given = new YamuxOptions { MaxInboundStreams = 900, InitialStreamWindow = 512 * 1024, MaxOutboundStreams = 77 };
        var lowered = given.WithInboundLimit(100);
        Assert.That(lowered.MaxInboundStreams, Is.EqualTo(100));
        Assert.That(lowered.InitialStreamWindow, Is.EqualTo(512 * 1024));
        Assert.That(lowered.MaxOutboundStreams, Is.EqualTo(77));
        Assert.That(given.MaxInboundStreams, Is.EqualTo(900), "the caller's options are not changed");
        Assert.That(given.WithInboundLimit(900), Is.SameAs(given), "already within the limit");
    }

    [Test]
    public void The_hosts_muxer_refuses_syns_beyond_the_hosts_per_connection_limit()
    {
        using var identity = KontinuumP2P.Core.Identity.Ed25519Identity.Generate();
        var byDefault = (KontinuumP2P.Net.Hosting.YamuxMuxerFactory)KontinuumP2P.Net.Hosting.DefaultUpgrades.CreateMuxer(
            new KontinuumP2P.Net.Hosting.PeerHostOptions { Identity = identity, MaxInboundStreamsPerConnection = 64 });
        Assert.That(byDefault.Options.MaxInboundStreams, Is.EqualTo(64));
        var given = new YamuxOptions { InitialStreamWindow = 512 * 1024 };
        var withGiven = (KontinuumP2P.Net.Hosting.YamuxMuxerFactory)KontinuumP2P.Net.Hosting.DefaultUpgrades.CreateMuxer(
            new KontinuumP2P.Net.Hosting.PeerHostOptions { Identity = identity, MaxInboundStreamsPerConnection = 64, YamuxOptions = given });
        Assert.That(withGiven.Options.MaxInboundStreams, Is.EqualTo(64));
        Assert.That(withGiven.Options.InitialStreamWindow, Is.EqualTo(512 * 1024));
    }
}
