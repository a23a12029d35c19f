using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Dht.Tests.Fakes;

/// <summary>Deterministic peer ids (Ed25519-shaped, no private key needed) from a seed.</summary>
internal static class TestPeers
{
    public static PeerId Create(Random random)
    {
        var key = new byte[32];
        random.NextBytes(key);
        return PeerId.FromEncodedPublicKey(PublicKeyEncoding.Encode(KeyType.Ed25519, key));
    }

    public static List<PeerId> Create(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => Create(random))];
    }
}
