using System.IO.Pipelines;
using System.Security.Cryptography;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Resources;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Net.Tests.Muxing;

/// <summary>Issue #11 item 7: Yamux streams and unread received bytes are reserved in the connection's resource scopes.</summary>
public sealed class YamuxResourceScopeTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Test, CancelAfter(60_000)]
    public async Task Unread_bytes_over_the_memory_limit_reset_only_the_stream_that_overflows(CancellationToken ct)
    {
        using var manager = new ResourceManager(new ResourceManagerOptions { Connection = new(Streams: 100, Memory: 500 * 1024) });
        var (session, raw) = Create(manager.OpenConnection(RandomPeer()));
        var payload = new byte[200 * 1024];

        // Streams 1 and 3 fit (400 KiB unread); stream 5's 200 KiB would take the connection to 600 KiB.
        foreach (var id in new uint[] { 1, 3, 5 })
            await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.Data, YamuxFlags.Syn, id, (uint)payload.Length), payload);
        var reset = await raw.ReadUntilAsync(h => (h.Flags & YamuxFlags.Rst) != 0, ct).WaitAsync(Bound, ct);
        Assert.That(reset.Header.StreamId, Is.EqualTo(5u));
        Assert.That(manager.System.Memory, Is.EqualTo(400 * 1024));
        TestContext.Out.WriteLine($"3 streams × 200 KiB unread, limit 500 KiB: {manager.System.Memory / 1024} KiB held, stream 5 reset");

        // Reading stream 1 returns its bytes to the scopes; a new stream then fits.
        var first = (await session.AcceptStreamAsync(ct))!;
        long read = 0;
        while (read < payload.Length)
        {
            var result = await first.Input.ReadAsync(ct);
            read += result.Buffer.Length;
            first.Input.AdvanceTo(result.Buffer.End);
        }
        Assert.That(manager.System.Memory, Is.EqualTo(200 * 1024));
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.Data, YamuxFlags.Syn, 7, (uint)payload.Length), payload);
        await raw.SendAsync(YamuxHeader.Create(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 42));
        await raw.ReadUntilAsync(h => h.Type == YamuxFrameType.Ping, ct).WaitAsync(Bound, ct);
        Assert.That(manager.System.Memory, Is.EqualTo(400 * 1024));
        Assert.That(session.Completion.IsCompleted, Is.False, "a full scope is not a session error");

        // The session's end releases everything it still held.
        session.Abort();
        await session.Completion.WaitAsync(Bound, ct);
        Assert.That(manager.System.Memory, Is.Zero);
        Assert.That(manager.System.Streams, Is.Zero);
        Assert.That(manager.PeerScopes, Is.Zero);
    }

    [Test, CancelAfter(60_000)]
    public async Task Syns_over_the_peer_stream_limit_are_refused_across_connections(CancellationToken ct)
    {
        using var manager = new ResourceManager(new ResourceManagerOptions { Peer = new(Streams: 3, Memory: 1 << 20) });
        var peer = RandomPeer();
        var (one, rawOne) = Create(manager.OpenConnection(peer));
        var (two, rawTwo) = Create(manager.OpenConnection(peer));
        foreach (var id in new uint[] { 1, 3 }) await rawOne.SendAsync(YamuxHeader.Create(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, id, 0));
        // A ping answered means both SYNs on the first connection were handled.
        await rawOne.SendAsync(YamuxHeader.Create(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 7));
        await rawOne.ReadUntilAsync(h => h.Type == YamuxFrameType.Ping, ct).WaitAsync(Bound, ct);
        foreach (var id in new uint[] { 1, 3 }) await rawTwo.SendAsync(YamuxHeader.Create(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, id, 0));
        var reset = await rawTwo.ReadUntilAsync(h => (h.Flags & YamuxFlags.Rst) != 0, ct).WaitAsync(Bound, ct);
        Assert.That(reset.Header.StreamId, Is.EqualTo(3u));
        Assert.That(manager.PeerUsage(peer).Streams, Is.EqualTo(3));

        // Our own opens are refused with the scope named.
        var refused = Assert.ThrowsAsync<ResourceLimitExceededException>(async () => await one.OpenStreamAsync(ct));
        Assert.That(refused!.Reason, Is.EqualTo("peer-streams"));
        one.Abort();
        two.Abort();
        await Task.WhenAll(one.Completion, two.Completion).WaitAsync(Bound, ct);
        Assert.That(manager.System.Streams, Is.Zero);
    }

    private static (YamuxSession Session, RawYamuxPeer Raw) Create(ResourceScope scope)
    {
        var (dialer, listener) = ConnectionPair.Create(new PipeOptions(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20,
            useSynchronizationContext: false));
        var session = new YamuxSession(listener, isClient: false, new YamuxOptions { PingOnStart = false }, resources: scope);
        return (session, new RawYamuxPeer(dialer));
    }

    private static PeerId RandomPeer()
    {
        var bytes = new byte[38];
        bytes[1] = 36;
        bytes[2] = 0x08;
        bytes[3] = 0x01;
        bytes[4] = 0x12;
        bytes[5] = 0x20;
        RandomNumberGenerator.Fill(bytes.AsSpan(6));
        return PeerId.FromBytes(bytes);
    }
}
