using KontinuumP2P.Certs.NodeIdentity;
using KontinuumP2P.Certs.Secrets;

namespace KontinuumP2P.Certs.Tests.Secrets;

public sealed class KeyDerivationTests
{
    [Test]
    public void NodeKeyIsAFunctionOfTheBip39Seed()
    {
        var seed = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
        using var a = NodeKeyDerivation.FromBip39Seed(seed);
        using var b = NodeKeyDerivation.FromBip39Seed(seed.ToArray());
        seed[63] ^= 1;
        using var c = NodeKeyDerivation.FromBip39Seed(seed);
        Assert.That(b.PeerId, Is.EqualTo(a.PeerId));
        Assert.That(c.PeerId, Is.Not.EqualTo(a.PeerId));
        Assert.Throws<ArgumentException>(() => NodeKeyDerivation.FromBip39Seed(new byte[32]));
    }

    [Test]
    public void AnchorKeyMixesOsRandomnessWithEveryEntropyFile()
    {
        var os = Enumerable.Repeat((byte)7, 32).ToArray();
        byte[] dice = [.. Enumerable.Repeat((byte)1, 32)];
        byte[] camera = [.. Enumerable.Repeat((byte)2, 32)];
        using var a = AnchorKeyGenerator.FromMaterial(os, [dice, camera]);
        using var same = AnchorKeyGenerator.FromMaterial(os, [dice, camera]);
        using var otherEntropy = AnchorKeyGenerator.FromMaterial(os, [dice, dice]);
        using var otherOs = AnchorKeyGenerator.FromMaterial(Enumerable.Repeat((byte)8, 32).ToArray(), [dice, camera]);
        Assert.That(same.PublicKey, Is.EqualTo(a.PublicKey));
        Assert.That(otherEntropy.PublicKey, Is.Not.EqualTo(a.PublicKey));
        Assert.That(otherOs.PublicKey, Is.Not.EqualTo(a.PublicKey));
    }

    [Test]
    public async Task GeneratedAnchorKeysDifferEvenWithTheSameOperatorEntropy()
    {
        using var e1 = new MemoryStream(new byte[1000]);
        using var e2 = new MemoryStream(new byte[1000]);
        using var a = await AnchorKeyGenerator.GenerateAsync([e1], CancellationToken.None);
        using var b = await AnchorKeyGenerator.GenerateAsync([e2], CancellationToken.None);
        Assert.That(b.PublicKey, Is.Not.EqualTo(a.PublicKey));
    }
}
