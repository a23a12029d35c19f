namespace KontinuumP2P.Mailbox.Server;

/// <summary>A token bucket (sans-I/O: the caller passes the time). Not thread-safe; callers lock.</summary>
internal sealed class TokenBucket
{
    private readonly double _capacity;
    private readonly double _perSecond;
    private double _tokens;
    private long _updated;

    public TokenBucket(double capacity, double perSecond, long nowTicks)
    {
        _capacity = capacity;
        _perSecond = perSecond;
        _tokens = capacity;
        _updated = nowTicks;
    }

    /// <summary>Takes one token, or returns false with how long until one is available.</summary>
    public bool TryTake(long nowTicks, out TimeSpan retryAfter)
    {
        Refill(nowTicks);
        if (_tokens >= 1)
        {
            _tokens -= 1;
            retryAfter = TimeSpan.Zero;
            return true;
        }
        retryAfter = TimeSpan.FromSeconds((1 - _tokens) / _perSecond);
        return false;
    }

    /// <summary>True when the bucket has refilled completely (its owner has been idle).</summary>
    public bool IsFull(long nowTicks)
    {
        Refill(nowTicks);
        return _tokens >= _capacity;
    }

    private void Refill(long nowTicks)
    {
        if (nowTicks <= _updated) return;
        _tokens = Math.Min(_capacity, _tokens + (TimeSpan.FromTicks(nowTicks - _updated).TotalSeconds * _perSecond));
        _updated = nowTicks;
    }
}

/// <summary>
/// Per-device push buckets shared by all of a device's sessions, bounded: at the cap, buckets that have refilled
/// (idle devices) are evicted; if none has, the least recently used tenth goes.
/// </summary>
internal sealed class DeviceRateLimits(int capacity, int perMinute, TimeProvider time)
{
    private readonly Dictionary<string, (TokenBucket Bucket, long LastUse)> _buckets = [];
    private readonly Lock _lock = new();
    private long _uses;

    public int Count
    {
        get
        {
            lock (_lock) return _buckets.Count;
        }
    }

    public bool TryPush(string device, out TimeSpan retryAfter)
    {
        var now = time.GetUtcNow().UtcTicks;
        lock (_lock)
        {
            if (!_buckets.TryGetValue(device, out var entry))
            {
                if (_buckets.Count >= capacity) Evict(now);
                entry = (new TokenBucket(perMinute, perMinute / 60.0, now), 0);
            }
            var allowed = entry.Bucket.TryTake(now, out retryAfter);
            // A use counter, not the clock, orders recency: ties under a coarse clock would evict at random.
            _buckets[device] = (entry.Bucket, ++_uses);
            return allowed;
        }
    }

    // Runs once per tenth of the capacity at most, so a flood of new devices costs amortised O(log n) each.
    private void Evict(long now)
    {
        var idle = _buckets.Where(e => e.Value.Bucket.IsFull(now)).Select(e => e.Key).ToList();
        foreach (var key in idle) _buckets.Remove(key);
        if (_buckets.Count < capacity) return;
        var oldest = _buckets.OrderBy(e => e.Value.LastUse).Take((capacity / 10) + 1).Select(e => e.Key).ToList();
        foreach (var key in oldest) _buckets.Remove(key);
    }
}
