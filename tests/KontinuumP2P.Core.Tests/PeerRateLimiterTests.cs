using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Limits;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Core.Tests;

public sealed class PeerRateLimiterTests
{
    private static PeerId Peer(int seed)
    {
        var key = new byte[32];
        new Random(seed).NextBytes(key);
        return PeerId.FromEncodedPublicKey(PublicKeyEncoding.Encode(KeyType.Ed25519, key));
    }

    [Test]
    public void A_peer_gets_its_burst_then_the_rate_and_others_are_unaffected()
    {
        var time = new FakeTimeProvider();
        var limiter = new PeerRateLimiter(ratePerSecond: 2, burst: 5, maxPeers: 100, time);
        var greedy = Peer(1);
        var granted = Enumerable.Range(0, 50).Count(_ => limiter.TryAcquire(greedy));
        time.Advance(TimeSpan.FromSeconds(3));
        var afterWait = Enumerable.Range(0, 50).Count(_ => limiter.TryAcquire(greedy));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(granted, Is.EqualTo(5));
            Assert.That(afterWait, Is.EqualTo(5), "3 s at 2/s refill, capped by the burst of 5");
            Assert.That(limiter.TryAcquire(Peer(2)), Is.True, "another peer has its own bucket");
            Assert.That(limiter.Refused, Is.EqualTo(90));
        }
    }

    [Test]
    public void Tracked_peers_are_bounded()
    {
        var limiter = new PeerRateLimiter(1, 1, maxPeers: 16, new FakeTimeProvider());
        for (var i = 0; i < 1_000; i++) limiter.TryAcquire(Peer(i));
        Assert.That(limiter.Count, Is.EqualTo(16));
    }

    [Test]
    public void Forgetting_refilled_buckets_changes_no_decision_and_keeps_only_recent_peers()
    {
        // A reference model: one bucket per peer, never forgotten. The limiter must decide exactly the same for a
        // random mix of peers and pauses, while holding only the buckets that have not refilled yet.
        var time = new FakeTimeProvider();
        const double rate = 3;
        const int burst = 4;
        var limiter = new PeerRateLimiter(rate, burst, maxPeers: 10_000, time);
        var peers = Enumerable.Range(0, 40).Select(Peer).ToArray();
        var reference = new Dictionary<PeerId, (double Tokens, long Updated)>();
        var random = new Random(7);
        var refused = 0;
        for (var step = 0; step < 20_000; step++)
        {
            if (random.Next(8) == 0) time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 1_500)));
            var peer = peers[random.Next(random.Next(2) == 0 ? 5 : peers.Length)];
            var now = time.GetTimestamp();
            var (tokens, updated) = reference.TryGetValue(peer, out var held) ? held : (burst, now);
            tokens = Math.Min(burst, tokens + time.GetElapsedTime(updated, now).TotalSeconds * rate);
            var expected = tokens >= 1;
            if (expected) tokens -= 1;
            else refused++;
            reference[peer] = (tokens, now);
            Assert.That(limiter.TryAcquire(peer), Is.EqualTo(expected), $"step {step}");
        }
        time.Advance(TimeSpan.FromSeconds(10)); // every bucket refills
        for (var i = 0; i < 3; i++) limiter.TryAcquire(peers[0]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(limiter.Refused, Is.EqualTo(refused));
            Assert.That(refused, Is.GreaterThan(0), "the mix must exercise refusals");
            Assert.That(limiter.Count, Is.LessThanOrEqualTo(2), "refilled buckets of peers not heard from since are forgotten");
        }
    }
}
