using KontinuumP2P.Net.Muxing;

namespace KontinuumP2P.Net.Tests.Muxing;

/// <summary>
/// The SYN-ordering fix (fec14e9), tested deterministically: a stream opened while another is between its id
/// allocation and the scheduling of its SYN must not get its SYN out first (the remote refuses an id below one it
/// has seen as stale).
/// </summary>
public sealed class YamuxSynOrderTests
{
    [Test, CancelAfter(30_000)]
    public async Task A_stream_opened_during_another_streams_allocation_sends_its_syn_after_it(CancellationToken ct)
    {
        var (session, raw) = RawYamuxPeer.Create(sessionIsClient: true);
        Task<IMuxedStream>? second = null;
        var secondOpenedDuringFirst = false;
        session.OnOutboundIdAllocated = id =>
        {
            if (id != 1) return;
            // Open stream 3 from another thread while stream 1 sits between allocation and scheduling. With the fix
            // it cannot get past the session's lock, so this bounded wait expires; without it, 3 is scheduled first.
            second = Task.Run(async () => await session.OpenStreamAsync(ct), ct);
            secondOpenedDuringFirst = second.Wait(TimeSpan.FromMilliseconds(300), ct);
        };
        var first = await session.OpenStreamAsync(ct);
        session.OnOutboundIdAllocated = null;
        var other = await second!.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.That((first.Id, other.Id), Is.EqualTo((1u, 3u)));

        // Both streams say something so their SYNs go out; read the SYNs in wire order.
        await first.Output.WriteAsync(new byte[] { 1 }, ct);
        await other.Output.WriteAsync(new byte[] { 3 }, ct);
        var syns = new List<uint>();
        while (syns.Count < 2)
        {
            var frame = await raw.ReadFrameAsync(ct).WaitAsync(TimeSpan.FromSeconds(10), ct) ?? throw new IOException("session closed");
            if ((frame.Header.Flags & YamuxFlags.Syn) != 0 && frame.Header.StreamId != 0) syns.Add(frame.Header.StreamId);
        }
        Assert.That(syns, Is.EqualTo(new[] { 1u, 3u }));
        Assert.That(secondOpenedDuringFirst, Is.False, "the second open waited for the first to be scheduled");
        session.Abort();
        await session.Completion.WaitAsync(TimeSpan.FromSeconds(10), ct);
    }
}
