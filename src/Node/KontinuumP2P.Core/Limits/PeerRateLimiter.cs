using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Core.Limits;

/// <summary>
/// A token bucket per peer: <see cref="Burst"/> requests at once, refilled at <see cref="RatePerSecond"/>. At most
/// <see cref="MaxPeers"/> buckets are kept (the least recently used is dropped, which only forgives that peer). Sans-I/O:
/// time comes from the given <see cref="TimeProvider"/>. Thread-safe.
/// </summary>
public sealed class PeerRateLimiter
{
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, LinkedListNode<Bucket>> _buckets = [];
    private readonly LinkedList<Bucket> _lru = new();
    private long _refused;

    /// <summary>Creates the limiter.</summary>
    public PeerRateLimiter(double ratePerSecond, int burst, int maxPeers, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPeers);
        RatePerSecond = ratePerSecond;
        Burst = burst;
        MaxPeers = maxPeers;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Sustained requests per second per peer.</summary>
    public double RatePerSecond { get; }

    /// <summary>Requests a peer may make at once.</summary>
    public int Burst { get; }

    /// <summary>Most peers tracked.</summary>
    public int MaxPeers { get; }

    /// <summary>Peers tracked now.</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _buckets.Count;
        }
    }

    /// <summary>Requests refused so far.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Takes one token for <paramref name="peer"/>; false when its bucket is empty (refuse the request).</summary>
    public bool TryAcquire(PeerId peer)
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            ForgetRefilled(now);
            if (_buckets.TryGetValue(peer, out var node)) _lru.Remove(node);
            else
            {
                if (_buckets.Count >= MaxPeers && _lru.Last is { } oldest)
                {
                    _lru.RemoveLast();
                    _buckets.Remove(oldest.Value.Peer);
                }
                node = new LinkedListNode<Bucket>(new Bucket(peer, Burst, now));
                _buckets[peer] = node;
            }
            _lru.AddFirst(node);
            var bucket = node.Value;
            bucket.Tokens = Math.Min(Burst, bucket.Tokens + _time.GetElapsedTime(bucket.Updated, now).TotalSeconds * RatePerSecond);
            bucket.Updated = now;
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return true;
            }
        }
        Interlocked.Increment(ref _refused);
        return false;
    }

    /// <summary>
    /// Drops up to two of the least recently used buckets that have refilled by now: a full bucket is exactly what a
    /// new one would be, so forgetting it changes no decision, and the buckets kept are those of peers heard from within
    /// the refill time rather than every peer ever heard from (up to <see cref="MaxPeers"/>). Under the lock.
    /// </summary>
    private void ForgetRefilled(long now)
    {
        for (var i = 0; i < 2 && _lru.Last is { } oldest; i++)
        {
            var bucket = oldest.Value;
            if (bucket.Tokens + _time.GetElapsedTime(bucket.Updated, now).TotalSeconds * RatePerSecond < Burst) return;
            _lru.RemoveLast();
            _buckets.Remove(bucket.Peer);
        }
    }

    private sealed class Bucket(PeerId peer, double tokens, long updated)
    {
        public PeerId Peer { get; } = peer;
        public double Tokens { get; set; } = tokens;
        public long Updated { get; set; } = updated;
    }
}
