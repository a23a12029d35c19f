using FsCheck;
using FsCheck.Fluent;
using KontinuumP2P.Dht.Routing;

namespace KontinuumP2P.Dht.Tests.Routing;

public sealed class KadIdTests
{
    [Test]
    public void Xor_distance_is_a_metric_and_orders_like_big_endian_bytes()
    {
        var bytes = Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), 32);
        var property = Prop.ForAll(Gen.Three(bytes).ToArbitrary(), t =>
        {
            var (a, b, c) = (KadId.FromRawBytes(t.Item1), KadId.FromRawBytes(t.Item2), KadId.FromRawBytes(t.Item3));
            var symmetric = a.DistanceTo(b) == b.DistanceTo(a);
            var identity = a.DistanceTo(a) == KadId.Zero;
            var xorTriangle = a.DistanceTo(b).DistanceTo(b.DistanceTo(c)) == a.DistanceTo(c);
            var order = Math.Sign(a.CompareTo(b)) == Math.Sign(t.Item1.AsSpan().SequenceCompareTo(t.Item2));
            var roundTrip = a.ToByteArray().SequenceEqual(t.Item1);
            var cpl = a.CommonPrefixLength(b) == LeadingEqualBits(t.Item1, t.Item2);
            var bits = Enumerable.Range(0, KadId.Bits).All(i => a.IsBitSet(i) == ((t.Item1[i / 8] & (0x80 >> (i % 8))) != 0));
            return symmetric && identity && xorTriangle && order && roundTrip && cpl && bits;
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), property);
    }

    [Test]
    public void Peer_kad_id_is_sha256_of_the_multihash()
    {
        var peer = Fakes.TestPeers.Create(new Random(1));
        Assert.That(KadId.FromPeer(peer).ToByteArray(), Is.EqualTo(System.Security.Cryptography.SHA256.HashData(peer.ToByteArray())));
    }

    private static int LeadingEqualBits(byte[] a, byte[] b)
    {
        for (var i = 0; i < 256; i++)
        {
            var mask = 0x80 >> (i % 8);
            if ((a[i / 8] & mask) != (b[i / 8] & mask)) return i;
        }
        return 256;
    }
}
