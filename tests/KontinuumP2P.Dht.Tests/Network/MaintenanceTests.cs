using KontinuumP2P.Dht.Tests.Fakes;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Dht.Tests.Network;

/// <summary>The maintenance loop driven by virtual time: republish keeps our records alive, others expire at 48 h.</summary>
public sealed class MaintenanceTests
{
    [Test, CancelAfter(60_000)]
    public async Task Republished_records_outlive_the_48_hour_expiry_and_abandoned_ones_do_not(CancellationToken cancellationToken)
    {
        TimerWatch? ticks = null;
        await using var dht = new SimulatedDht(seed: 11, clock: fake => ticks = new TimerWatch(fake, TimeSpan.FromHours(1)));
        var options = SimulatedDht.DefaultOptions() with
        {
            MaintenanceTick = TimeSpan.FromHours(1),
            RefreshInterval = TimeSpan.FromDays(30),
            LowTableThreshold = 0,
        };
        for (var i = 0; i < 25; i++) await dht.AddNodeAsync(options);
        var publisher = dht.Nodes[0];
        var leaver = dht.Nodes[1];
        var kept = "/seq/kept"u8.ToArray();
        var abandoned = "/seq/abandoned"u8.ToArray();
        Assert.That(await publisher.PutValueAsync(kept, SequenceValidator.Value(1, "k"), cancellationToken), Is.GreaterThan(10));
        Assert.That(await leaver.PutValueAsync(abandoned, SequenceValidator.Value(1, "a"), cancellationToken), Is.GreaterThan(10));
        await leaver.DisposeAsync();
        dht.Nodes.Remove(leaver);
        dht.Swarm.Endpoint(leaver.LocalPeer).Offline = true;

        // 50 virtual hours, one maintenance tick each. Every live node's loop re-arms its 1 h tick timer only after
        // that tick's refresh, expiry and republish work (including the remote stores it causes) has finished.
        var armed = ticks!.Armed;
        for (var hour = 1; hour <= 50; hour++)
        {
            dht.Time.Advance(TimeSpan.FromHours(1));
            armed += dht.Nodes.Count;
            await ticks.WaitForArmedAsync(armed, cancellationToken);
        }

        var now = dht.Time.GetUtcNow();
        var holdersOfKept = 0;
        var holdersOfAbandoned = 0;
        foreach (var node in dht.Nodes.Where(n => n != publisher))
        {
            if (await node.Store.GetRecordAsync(kept, now, cancellationToken) is not null) holdersOfKept++;
            if (await node.Store.GetRecordAsync(abandoned, now, cancellationToken) is not null) holdersOfAbandoned++;
        }
        Assert.That(holdersOfKept, Is.GreaterThan(10), "republished every 22 h, so still held at 50 h");
        Assert.That(holdersOfAbandoned, Is.Zero, "nobody republished it: gone after 48 h");
        Assert.That(publisher.Store.Counts.Records, Is.GreaterThanOrEqualTo(1), "our own record never expires locally");
    }
}
