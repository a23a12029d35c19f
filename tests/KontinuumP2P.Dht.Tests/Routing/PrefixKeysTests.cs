using System.Security.Cryptography;
using KontinuumP2P.Dht.Routing;

namespace KontinuumP2P.Dht.Tests.Routing;

public sealed class PrefixKeysTests
{
    [Test]
    public void Every_prefix_has_a_key_whose_sha256_starts_with_it()
    {
        for (var prefix = 0; prefix < 1 << PrefixKeys.PrefixBits; prefix++)
        {
            var hash = SHA256.HashData(PrefixKeys.KeyWithPrefix((ushort)prefix));
            var got = hash[0] << 8 | hash[1];
            if (got != prefix) Assert.Fail($"prefix {prefix:x4}: the key hashes to {got:x4}");
        }
    }

    [Test]
    public void Keys_for_a_bucket_fall_in_that_bucket_and_vary()
    {
        var random = new Random(7);
        var table = new RoutingTable(Fakes.TestPeers.Create(random));
        for (var bucket = 0; bucket < PrefixKeys.PrefixBits; bucket++)
        {
            var keys = new HashSet<string>();
            for (var draw = 0; draw < 50; draw++)
            {
                var key = PrefixKeys.KeyInBucket(table.LocalId, bucket, random);
                Assert.That(table.BucketIndex(KadId.FromKey(key)), Is.EqualTo(bucket), $"bucket {bucket}, draw {draw}");
                keys.Add(Convert.ToHexString(key));
            }
            // The bits after the first differing one are random: shallow buckets get many distinct keys.
            if (bucket < 10) Assert.That(keys, Has.Count.GreaterThan(25), $"bucket {bucket}");
        }
    }

    [Test]
    public void Buckets_from_the_prefix_length_on_are_refused()
    {
        var table = new RoutingTable(Fakes.TestPeers.Create(new Random(3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => PrefixKeys.KeyInBucket(table.LocalId, PrefixKeys.PrefixBits, new Random(1)));
    }
}
