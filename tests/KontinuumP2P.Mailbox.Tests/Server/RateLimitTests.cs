using KontinuumP2P.Mailbox.Server;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Mailbox.Tests.Server;

/// <summary>The sans-I/O token buckets and the bounded per-device table, on a fake clock.</summary>
[TestFixture]
public sealed class RateLimitTests
{
    [Test]
    public void A_bucket_refuses_past_its_burst_and_refills_with_time()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(3, 1, time.GetUtcNow().UtcTicks);
        for (var i = 0; i < 3; i++) Assert.That(bucket.TryTake(time.GetUtcNow().UtcTicks, out _), Is.True);
        Assert.That(bucket.TryTake(time.GetUtcNow().UtcTicks, out var retry), Is.False);
        Assert.That(retry, Is.EqualTo(TimeSpan.FromSeconds(1)));
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.That(bucket.TryTake(time.GetUtcNow().UtcTicks, out retry), Is.False);
        Assert.That(retry.TotalMilliseconds, Is.EqualTo(500).Within(1));
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.That(bucket.TryTake(time.GetUtcNow().UtcTicks, out _), Is.True);
        time.Advance(TimeSpan.FromHours(1));
        Assert.That(bucket.IsFull(time.GetUtcNow().UtcTicks), Is.True, "refills only up to the burst");
    }

    [Test]
    public void The_device_table_stays_within_its_cap_under_a_flood_of_devices_and_keeps_busy_ones()
    {
        var time = new FakeTimeProvider();
        var limits = new DeviceRateLimits(capacity: 100, perMinute: 2, time);
        Assert.That(limits.TryPush("busy", out _) && limits.TryPush("busy", out _), Is.True);
        Assert.That(limits.TryPush("busy", out _), Is.False);
        for (var i = 0; i < 10_000; i++)
        {
            limits.TryPush("device-" + i, out _);
            Assert.That(limits.Count, Is.LessThanOrEqualTo(100));
            if (i % 50 == 0) Assert.That(limits.TryPush("busy", out _), Is.False, "a flood of new devices does not reset an exhausted bucket");
        }
    }
}
