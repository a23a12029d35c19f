using System.Net;

namespace KontinuumP2P.Net.Discovery.Mdns;

/// <summary>
/// Per-source token buckets for incoming mDNS packets, so one noisy or hostile sender uses up its own allowance and
/// not everyone's. At most <c>maxSources</c> buckets exist: when full, idle (refilled) buckets are evicted first and a
/// new source is refused only while every tracked source is busy. Not thread-safe; the caller locks.
/// </summary>
internal sealed class MdnsSourceLimiter(TimeProvider time, double perSecond, double burst, int maxSources)
{
    private readonly Dictionary<IPAddress, Bucket> _buckets = [];

    public int Sources => _buckets.Count;

    /// <summary>Takes one packet's token for <paramref name="source"/>; false when it is over its rate (or the table is full of busy sources).</summary>
    public bool TryTake(IPAddress source)
    {
        var now = time.GetTimestamp();
        if (!_buckets.TryGetValue(source, out var bucket))
        {
            if (_buckets.Count >= maxSources) EvictIdle(now);
            if (_buckets.Count >= maxSources) return false;
            bucket = new Bucket { Tokens = burst, Updated = now };
            _buckets[source] = bucket;
        }
        Refill(bucket, now);
        if (bucket.Tokens < 1) return false;
        bucket.Tokens -= 1;
        return true;
    }

    private void Refill(Bucket bucket, long now)
    {
        bucket.Tokens = Math.Min(burst, bucket.Tokens + time.GetElapsedTime(bucket.Updated, now).TotalSeconds * perSecond);
        bucket.Updated = now;
    }

    private void EvictIdle(long now)
    {
        foreach (var (source, bucket) in _buckets.ToList())
        {
            Refill(bucket, now);
            if (bucket.Tokens >= burst) _buckets.Remove(source);
        }
    }

    private sealed class Bucket
    {
        public double Tokens { get; set; }
        public long Updated { get; set; }
    }
}
