using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Provisioning;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Hq.Tests.Service;

/// <summary>
/// A replacement whose node fails to start is retried with another spare after a backoff, a bounded number of times,
/// and every failure and the final giving up are audited. The provisioner is the real one starting a real process
/// (<c>/bin/false</c>, which exits before announcing itself); HQ's clock is fake.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class ProvisioningRetryTests
{
    [Test]
    public async Task A_failed_start_is_retried_with_another_spare_after_a_backoff_and_given_up_after_the_bound(CancellationToken ct)
    {
        using var fixture = new HqFixture();
        using var hq = fixture.Open();
        hq.ProvisioningRetry = new ProvisioningRetryOptions { MaxAttempts = 3, FirstDelay = TimeSpan.FromSeconds(30), MaxDelay = TimeSpan.FromSeconds(60) };
        var fleet = HqFixture.AddFleet(hq, providers: 3, perProvider: 1);
        for (var p = 3; p < 7; p++)
        {
            var id = KontinuumP2P.Core.Identity.Ed25519Identity.Generate().PeerId.ToString();
            var dir = Path.Combine(fixture.Directory, "spares", id);
            Directory.CreateDirectory(Path.Combine(dir, "config"));
            await File.WriteAllTextAsync(Path.Combine(dir, LocalProcessProvisioner.ConfigPath), "# never read: the command fails first\n", ct);
            hq.Registry.AddSpare("test", new SpareEntry(id, $"p{p}", "eu", dir, null));
        }
        await using var provisioner = new LocalProcessProvisioner("/bin/false", [], TimeSpan.FromSeconds(20));
        var events = new List<HqNodeEvent>();
        HqNodeService? service = null;
        await using var node = await new KontinuumNodeBuilder(new KontinuumNodeOptions
        {
            Identity = fixture.Key,
            Network = fixture.Authority.Network,
            Certificate = fixture.Certificate,
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            CrlRefreshInterval = TimeSpan.Zero,
        }).AddService(n =>
        {
            // The loop's own tick is an hour away: the test ticks by hand.
            service = new HqNodeService(n, hq, provisioner, new HqNodeOptions(TimeSpan.FromHours(1), TimeSpan.FromHours(1)));
            service.Changed += e =>
            {
                lock (events) events.Add(e);
            };
            return service;
        }).StartAsync(ct);

        var victim = fleet[0];
        hq.OnAlert(fleet[1].Node, new HealthTarget(victim.Slot, victim.Node), HealthLevel.Red);
        hq.OnAlert(fleet[2].Node, new HealthTarget(victim.Slot, victim.Node), HealthLevel.Red);
        List<string> Failed()
        {
            lock (events) return [.. events.Where(e => e.Kind == "provision-failed" && e.Slot == victim.Slot).Select(e => e.NodeId)];
        }

        await service!.TickAsync(ct);
        Assert.That(Failed(), Has.Count.EqualTo(1));
        Assert.That(hq.Registry.GetSlot(victim.Slot)!.Status, Is.EqualTo(SlotStatus.Down), "down again: another spare is due");
        await service.TickAsync(ct);
        fixture.Time.Advance(TimeSpan.FromSeconds(29));
        await service.TickAsync(ct);
        Assert.That(Failed(), Has.Count.EqualTo(1), "not retried a tick before the 30 s backoff");
        fixture.Time.Advance(TimeSpan.FromSeconds(1));
        await service.TickAsync(ct);
        Assert.That(Failed(), Has.Count.EqualTo(2));
        fixture.Time.Advance(TimeSpan.FromSeconds(59));
        await service.TickAsync(ct);
        Assert.That(Failed(), Has.Count.EqualTo(2), "the backoff doubled to 60 s");
        fixture.Time.Advance(TimeSpan.FromSeconds(1));
        await service.TickAsync(ct);
        Assert.That(Failed(), Has.Count.EqualTo(3));
        Assert.That(Failed().Distinct().Count(), Is.EqualTo(3), "each attempt used another spare");

        // Bound reached: HQ gives up once, audits it, and a free spare is left alone however long it waits.
        fixture.Time.Advance(TimeSpan.FromDays(1));
        await service.TickAsync(ct);
        Assert.That(Failed(), Has.Count.EqualTo(3));
        lock (events) Assert.That(events.Count(e => e.Kind == "provision-abandoned"), Is.EqualTo(1));
        Assert.That(hq.Registry.FreeSpares(), Has.Count.EqualTo(1));
        var audit = hq.Audit.Tail(200);
        Assert.That(audit.Count(e => e.Action == "provision.failed"), Is.EqualTo(3));
        Assert.That(audit.Count(e => e.Action == "provision.abandoned"), Is.EqualTo(1));
        Assert.That(audit.Where(e => e.Action == "provision.failed").Select(e => e.Detail), Has.All.Contains("exited before announcing"));
        Assert.That(provisioner.Running, Is.Empty);
    }

    [Test]
    public void The_retry_schedule_doubles_up_to_the_cap_and_a_success_clears_it()
    {
        var t0 = DateTimeOffset.UnixEpoch;
        var options = new ProvisioningRetryOptions { MaxAttempts = 4, FirstDelay = TimeSpan.FromSeconds(10), MaxDelay = TimeSpan.FromSeconds(25) };
        var r = new ProvisioningRetries();
        Assert.That(r.Ready("s", t0), Is.True);
        Assert.That(r.Failed("s", t0, options).RetryAt, Is.EqualTo(t0 + TimeSpan.FromSeconds(10)));
        Assert.That(r.Ready("s", t0 + TimeSpan.FromSeconds(9.99)), Is.False);
        Assert.That(r.Ready("s", t0 + TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(r.Failed("s", t0, options).RetryAt, Is.EqualTo(t0 + TimeSpan.FromSeconds(20)));
        Assert.That(r.Failed("s", t0, options).RetryAt, Is.EqualTo(t0 + TimeSpan.FromSeconds(25)), "capped");
        var last = r.Failed("s", t0, options);
        Assert.That((last.Attempt, last.RetryAt), Is.EqualTo((4, (DateTimeOffset?)null)));
        Assert.That(r.Ready("s", DateTimeOffset.MaxValue), Is.False, "given up");
        r.Succeeded("s");
        Assert.That((r.Count, r.Ready("s", t0)), Is.EqualTo((0, true)));
        Assert.That(() => new ProvisioningRetryOptions { MaxAttempts = 0 }.Validate(), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
