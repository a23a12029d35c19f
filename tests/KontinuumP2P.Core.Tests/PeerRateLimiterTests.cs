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
}
