using System.Diagnostics.Metrics;
using System.Text;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Testing;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Muxing;

/// <summary>The exact frames a session writes, checked against a hand-driven peer.</summary>
public sealed class YamuxWireTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static YamuxHeader Header(YamuxFrameType type, YamuxFlags flags, uint id, uint length) =>
        YamuxHeader.Create(type, flags, id, length);

    [Test, CancelAfter(20_000)]
    public async Task OpeningWritingAndClosingUseTheJsFrames(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: true);
        var stream = await session.OpenStreamAsync(ct);
        var open = await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        var bytes = new byte[YamuxHeader.Size];
        open!.Value.Header.Write(bytes);
        Assert.That(Convert.ToHexStringLower(bytes), Is.EqualTo("000100010000000100000000"), "open = WindowUpdate(SYN, 0)");

        // Data flows before the ACK.
        await stream.Output.WriteAsync("ping"u8.ToArray(), ct);
        var data = await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        Assert.That(data!.Value.Header, Is.EqualTo(Header(YamuxFrameType.Data, YamuxFlags.None, 1, 4)));
        Assert.That(Encoding.ASCII.GetString(data.Value.Payload), Is.EqualTo("ping"));

        await stream.Output.CompleteAsync();
        var fin = await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        fin!.Value.Header.Write(bytes);
        Assert.That(Convert.ToHexStringLower(bytes), Is.EqualTo("000100040000000100000000"), "FIN = WindowUpdate(FIN, 0)");

        // The remote ACKs, answers and closes: both FINs seen frees the id.
        await raw.SendAsync(Header(YamuxFrameType.Data, YamuxFlags.Ack | YamuxFlags.Fin, 1, 4), "pong"u8.ToArray());
        var reply = await YamuxTestData.ReadToEndAsync(stream.Input, ct).WaitAsync(Bound, ct);
        Assert.That(Encoding.ASCII.GetString(reply), Is.EqualTo("pong"));
        await YamuxTestData.EventuallyAsync(() => session.ActiveStreams == 0, Bound, ct);
        Assert.That(session.ActiveStreams, Is.Zero);

        await session.CloseAsync(ct).AsTask().WaitAsync(Bound, ct);
        var rest = await raw.ReadToEndAsync(ct).WaitAsync(Bound, ct);
        Assert.That(rest, Is.EqualTo(new[] { Header(YamuxFrameType.GoAway, YamuxFlags.None, 0, 0) }), "close = GoAway(0)");
    }

    [Test, CancelAfter(20_000)]
    public async Task AcceptedStreamAcksAndReturnsCredit(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: false);
        await raw.SendAsync(Header(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        var payload = new byte[200 * 1024];
        await raw.SendAsync(Header(YamuxFrameType.Data, YamuxFlags.None, 1, (uint)payload.Length), payload);
        var stream = (await session.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;
        var ack = await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        Assert.That(ack!.Value.Header.Flags & YamuxFlags.Ack, Is.EqualTo(YamuxFlags.Ack), "first frame of an accepted stream carries ACK");

        long read = 0;
        while (read < payload.Length)
        {
            var r = await stream.Input.ReadAsync(ct);
            read += r.Buffer.Length;
            stream.Input.AdvanceTo(r.Buffer.End);
        }
        // Reading more than half the window returns the credit.
        var update = await raw.ReadUntilAsync(h => h.Type == YamuxFrameType.WindowUpdate && h.Length > 0, ct).WaitAsync(Bound, ct);
        Assert.That(update.Header.StreamId, Is.EqualTo(1u));
        Assert.That(update.Header.Length, Is.GreaterThanOrEqualTo((uint)payload.Length));
        session.Abort();
        await session.Completion.WaitAsync(Bound, ct);
    }

    [Test, CancelAfter(20_000)]
    public async Task GoAwayNormalStopsNewStreamsButExistingOnesFinish(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: true);
        var stream = await session.OpenStreamAsync(ct);
        await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        await raw.SendAsync(Header(YamuxFrameType.GoAway, YamuxFlags.None, 0, 0));
        await raw.SendAsync(Header(YamuxFrameType.Data, YamuxFlags.Ack | YamuxFlags.Fin, 1, 3), "abc"u8.ToArray());

        var received = await YamuxTestData.ReadToEndAsync(stream.Input, ct).WaitAsync(Bound, ct);
        Assert.That(Encoding.ASCII.GetString(received), Is.EqualTo("abc"));
        Assert.That(session.RemoteGoAway, Is.True);
        Assert.ThrowsAsync<IOException>(async () => await session.OpenStreamAsync(ct));

        await stream.Output.WriteAsync("xyz"u8.ToArray(), ct);
        await stream.Output.CompleteAsync();
        var data = await raw.ReadUntilAsync(h => h.Type == YamuxFrameType.Data, ct).WaitAsync(Bound, ct);
        Assert.That(Encoding.ASCII.GetString(data.Payload), Is.EqualTo("xyz"));
        Assert.That(session.Completion.IsCompleted, Is.False, "GoAway(0) lets existing streams finish");
        session.Abort();
        await session.Completion.WaitAsync(Bound, ct);
    }

    [Test, CancelAfter(20_000)]
    public async Task GoAwayErrorResetsEverything(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: true);
        var stream = await session.OpenStreamAsync(ct);
        await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        await raw.SendAsync(Header(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAwayCode.ProtocolError));
        await session.Completion.WaitAsync(Bound, ct);
        Assert.ThrowsAsync<StreamResetException>(async () => await stream.Input.ReadAsync(ct));
        Assert.ThrowsAsync<StreamResetException>(async () => await stream.Output.WriteAsync("x"u8.ToArray(), ct));
        var rest = await raw.ReadToEndAsync(ct).WaitAsync(Bound, ct);
        Assert.That(rest, Is.Empty, "no GoAway is sent back to a GoAway");
        Assert.That(session.ActiveStreams, Is.Zero);
    }

    [Test, CancelAfter(20_000)]
    public async Task ResetFramesGoOnTheWireBothWays(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: true);
        var first = await session.OpenStreamAsync(ct);
        var second = await session.OpenStreamAsync(ct);
        await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        first.Reset();
        var rst = await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        Assert.That(rst!.Value.Header, Is.EqualTo(Header(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, 1, 0)));

        // A remote RST on a Data frame discards its payload and fails both directions.
        await raw.SendAsync(Header(YamuxFrameType.Data, YamuxFlags.Rst, 3, 2), "zz"u8.ToArray());
        Assert.ThrowsAsync<StreamResetException>(async () => await second.Input.ReadAsync(ct).AsTask().WaitAsync(Bound, ct));
        Assert.ThrowsAsync<StreamResetException>(async () => await second.Output.WriteAsync("x"u8.ToArray(), ct));
        Assert.That(session.ActiveStreams, Is.Zero);
    }

    [Test, CancelAfter(20_000)]
    public async Task SynReusingAClosedIdIsRefused(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: false);
        await raw.SendAsync(Header(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        var stream = (await session.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;
        await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        await raw.SendAsync(Header(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, 1, 0));
        await YamuxTestData.EventuallyAsync(() => session.ActiveStreams == 0, Bound, ct);
        await raw.SendAsync(Header(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        var refusal = await raw.ReadFrameAsync(ct).WaitAsync(Bound, ct);
        Assert.That(refusal!.Value.Header, Is.EqualTo(Header(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, 1, 0)));
        Assert.That(stream.Id, Is.EqualTo(1u));
        session.Abort();
        await session.Completion.WaitAsync(Bound, ct);
    }

    [Test, CancelAfter(20_000)]
    public async Task KeepAlivePingsFollowTheClockAndFeedMetrics(CancellationToken ct)
    {
        var clock = new FakeTimeProvider();
        using var meterFactory = new TestMeterFactory();
        var rtts = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meterFactory) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            lock (rtts) rtts.Add(value);
        });
        listener.Start();

        // Only a timer armed with exactly the 30 s interval counts; the session arms it from its own task.
        var keepAlive = new TimerWatch(clock, TimeSpan.FromSeconds(30));
        var options = new YamuxOptions { PingOnStart = false, KeepAliveInterval = TimeSpan.FromSeconds(30), TimeProvider = keepAlive };
        var (session, raw) = RawYamuxPeer.Create(true, options, metrics: new YamuxMetrics(meterFactory));
        for (uint round = 0; round < 3; round++)
        {
            var read = raw.ReadFrameAsync(ct);
            await keepAlive.WaitForArmedAsync((int)round + 1, ct).WaitAsync(Bound, ct);
            Assert.That(read.IsCompleted, Is.False, "no ping before the interval has passed");
            // One advance by exactly the interval sends the next ping.
            clock.Advance(TimeSpan.FromSeconds(30));
            var ping = await read.WaitAsync(Bound, ct);
            Assert.That(ping!.Value.Header, Is.EqualTo(Header(YamuxFrameType.Ping, YamuxFlags.Syn, 0, round)),
                "one outstanding ping at a time, opaque values counting up");
            clock.Advance(TimeSpan.FromMilliseconds(20));
            await raw.SendAsync(Header(YamuxFrameType.Ping, YamuxFlags.Ack, 0, round));
            await YamuxTestData.EventuallyAsync(() => { lock (rtts) return rtts.Count > round; }, Bound, ct);
        }
        Assert.That(session.RoundTripTime, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(20)));
        lock (rtts) Assert.That(rtts, Has.Count.EqualTo(3).And.All.GreaterThanOrEqualTo(20.0));
        session.Abort();
        await session.Completion.WaitAsync(Bound, ct);
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Scope = this });
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters) meter.Dispose();
        }
    }
}
