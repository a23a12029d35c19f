using System.Buffers;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Testing;
using static KontinuumP2P.Testing.HostilePeer;

namespace KontinuumP2P.Net.Tests.Hosting;

/// <summary>
/// Issue #11 adversarial suite: a scripted peer over real TCP and Noise sends Yamux and multistream bytes of the known
/// libp2p advisory classes; each test asserts the bound and that an honest peer is served meanwhile.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class HostilePeerTests : HostileTargetFixture
{
    [Test]
    public async Task Data_beyond_the_window_ends_only_that_connection(CancellationToken ct)
    {
        await using var hostile = await HostilePeer.ConnectAsync(TestHosts.AddressOf(Target), ct);
        await hostile.SendFrameAsync(WindowUpdate, Syn, 1, 0, default, ct);
        // 300 KiB on a 256 KiB window.
        RawFrame? goAway;
        try
        {
            await hostile.SendFrameAsync(Data, 0, 1, 300 * 1024, new byte[300 * 1024], ct);
        }
        catch (IOException)
        {
            // The host may close while the 300 KiB are still being written.
        }
        goAway = await hostile.ReadUntilAsync(f => f.Type == GoAway, ct);
        Assert.That(goAway?.Length, Is.EqualTo(1u), "GoAway with the protocol-error code");
        Assert.That(await hostile.ReadFrameAsync(ct), Is.Null, "the connection is closed");
        await AssertHonestServedAsync(ct);
    }

    [Test]
    public async Task A_syn_flood_stops_at_the_stream_limit_and_the_session_still_answers(CancellationToken ct)
    {
        await using var hostile = await HostilePeer.ConnectAsync(TestHosts.AddressOf(Target), ct);
        // Streams of earlier tests' honest connections may still be closing; they only go down from here.
        var before = Target.Resources.System.Streams;
        var syns = new byte[5_000 * 12];
        for (var i = 0; i < 5_000; i++) Header(syns.AsSpan(i * 12), WindowUpdate, Syn, 1 + 2 * (uint)i, 0);
        await hostile.SendRawAsync(syns, ct);
        Assert.That(await hostile.PingAsync(77, ct), Is.True, "the session survives the flood");
        var streams = Target.Resources.System.Streams;
        TestContext.Out.WriteLine($"5,000 SYNs never negotiated: {streams} streams held after the ping");
        // The host passes its per-connection limit to the Yamux session, which refuses SYNs beyond it as they arrive:
        // at no moment are more streams held than the limit (plus the host's own identify stream), even before the
        // host's accept loop has taken any of them.
        Assert.That(streams, Is.LessThanOrEqualTo(before + Target.Options.MaxInboundStreamsPerConnection + 1));
        Assert.That(Target.Options.MaxInboundStreamsPerConnection, Is.LessThan(new KontinuumP2P.Net.Muxing.YamuxOptions().MaxInboundStreams),
            "the session's own default is higher, so this checks the host's limit");
        await AssertHonestServedAsync(ct);
    }

    [Test]
    public async Task A_reused_or_lower_stream_id_is_refused_without_ending_the_session(CancellationToken ct)
    {
        await using var hostile = await HostilePeer.ConnectAsync(TestHosts.AddressOf(Target), ct);
        await hostile.SendFrameAsync(WindowUpdate, Syn, 5, 0, default, ct);
        await hostile.SendFrameAsync(WindowUpdate, Syn, 3, 0, default, ct);
        var reset = await hostile.ReadUntilAsync(f => (f.Flags & Rst) != 0, ct);
        Assert.That(reset?.StreamId, Is.EqualTo(3u), "an id below one already seen is stale");
        await hostile.SendFrameAsync(WindowUpdate, Syn, 5, 0, default, ct);
        Assert.That(await hostile.PingAsync(5, ct), Is.True);
        await AssertHonestServedAsync(ct);
    }

    [TestCase(new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, TestName = "Varint overflow in multistream resets the stream")]
    [TestCase(new byte[] { 0xff, 0xff, 0x03 }, TestName = "A 64 KiB multistream length resets the stream")]
    [TestCase(new byte[] { 0x05, (byte)'a', (byte)'b', (byte)'c', (byte)'d', (byte)'e' }, TestName = "A multistream message without newline resets the stream")]
    public async Task Bad_multistream_bytes_reset_only_their_stream(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ct = cts.Token;
        await using var hostile = await HostilePeer.ConnectAsync(TestHosts.AddressOf(Target), ct);
        await hostile.SendFrameAsync(Data, Syn, 1, (uint)bytes.Length, bytes, ct);
        var reset = await hostile.ReadUntilAsync(f => f.StreamId == 1 && (f.Flags & Rst) != 0, ct);
        Assert.That(reset, Is.Not.Null, "the stream is reset");
        Assert.That(await hostile.PingAsync(9, ct), Is.True, "the session lives on");
        await AssertHonestServedAsync(ct);
    }

    [Test]
    public async Task Garbage_after_a_refused_proposal_on_many_streams_is_released(CancellationToken ct)
    {
        await using var hostile = await HostilePeer.ConnectAsync(TestHosts.AddressOf(Target), ct);
        // Each stream names a protocol the host does not have, then 200 KiB of zeros (an empty, invalid proposal).
        var propose = new byte[] { 0x13 }.Concat("/multistream/1.0.0\n"u8.ToArray()).Concat(new byte[] { 0x08 }).Concat("/nothing\n"u8.ToArray()).ToArray();
        for (uint id = 1; id < 40; id += 2)
        {
            await hostile.SendFrameAsync(Data, Syn, id, (uint)propose.Length, propose, ct);
            await hostile.SendFrameAsync(Data, 0, id, 200 * 1024, new byte[200 * 1024], ct);
        }
        Assert.That(await hostile.PingAsync(3, ct), Is.True);
        // Each open connection also holds its Noise buffers for its whole life.
        long Baseline() => Target.Connections.Count(c => !c.IsClosed) * NoiseScopeTests.NoiseCharge;
        var memory = Target.Resources.System.Memory - Baseline();
        TestContext.Out.WriteLine($"20 streams × 200 KiB unread: {memory / 1024} KiB held by the target");
        Assert.That(memory, Is.LessThanOrEqualTo(20L * 256 * 1024), "never more than the windows allow");
        await TestHosts.WaitUntilAsync(() => Target.Resources.System.Memory == Baseline(), ct, 20_000);
        await AssertHonestServedAsync(ct);
    }
}
