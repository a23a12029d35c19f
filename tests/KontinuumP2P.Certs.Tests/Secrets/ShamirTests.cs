using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Secrets;

namespace KontinuumP2P.Certs.Tests.Secrets;

public sealed class ShamirTests
{
    private static readonly byte[] Secret = System.Text.Encoding.UTF8.GetBytes("correct horse battery staple, 32+ chars long!");

    [Test]
    public void AllTenThreeShareSubsetsReconstruct()
    {
        var shares = ShamirSecretSharing.Split(Secret, 3, 5);
        var subsets = TrustFixture.Subsets(5, 3).ToList();
        Assert.That(subsets, Has.Count.EqualTo(10));
        foreach (var subset in subsets)
        {
            var parsed = subset.Select(i => ShamirShare.Parse(shares[i].ToString())).ToList();
            Assert.That(ShamirSecretSharing.Combine(parsed).Secret, Is.EqualTo(Secret), string.Join(",", subset));
        }
    }

    [Test]
    public void AllTenPairsFail()
    {
        var shares = ShamirSecretSharing.Split(Secret, 3, 5);
        var pairs = TrustFixture.Subsets(5, 2).ToList();
        Assert.That(pairs, Has.Count.EqualTo(10));
        foreach (var pair in pairs)
        {
            var ex = Assert.Throws<TrustFormatException>(() => ShamirSecretSharing.Combine(pair.Select(i => shares[i]).ToList()));
            Assert.That(ex!.Message, Does.Contain("3 needed"));
        }
    }

    [Test]
    public void PairsCannotBeForcedIntoTheSecret()
    {
        // Even a pair relabelled as a 2-of-n split fails the tag: the threshold is bound into it.
        var shares = ShamirSecretSharing.Split(Secret, 3, 5);
        var forced = shares.Take(2).Select(s => s with { Threshold = 2 }).ToList();
        Assert.Throws<TrustFormatException>(() => ShamirSecretSharing.Combine(forced));
    }

    [Test]
    public void TamperedShareIsDetected()
    {
        var shares = ShamirSecretSharing.Split(Secret, 3, 5);
        var payload = shares[1].Payload.ToArray();
        payload[3] ^= 0x01;
        var tampered = shares[1] with { Payload = payload };
        // Its own checksum is recomputed by ToString, so only the hidden tag can catch it.
        var reparsed = ShamirShare.Parse(tampered.ToString());
        var ex = Assert.Throws<TrustFormatException>(() => ShamirSecretSharing.Combine([shares[0], reparsed, shares[2]]));
        Assert.That(ex!.Message, Does.Contain("altered"));
        var withSpare = ShamirSecretSharing.Combine([shares[0], reparsed, shares[2], shares[3]]);
        Assert.That(withSpare.Secret, Is.EqualTo(Secret));
        Assert.That(withSpare.RejectedIndices, Is.EqualTo(new[] { 2 }));
    }

    [Test]
    public void MistypedShareFailsItsChecksum()
    {
        var text = ShamirSecretSharing.Split(Secret, 3, 5)[0].ToString();
        var i = text.Length - 20;
        var typo = text[..i] + (text[i] == 'a' ? 'b' : 'a') + text[(i + 1)..];
        Assert.That(Assert.Throws<TrustFormatException>(() => ShamirShare.Parse(typo))!.Message, Does.Contain("checksum"));
    }

    [Test]
    public void SharesFromDifferentSplitsAreRefused()
    {
        var a = ShamirSecretSharing.Split(Secret, 3, 5);
        var b = ShamirSecretSharing.Split(Secret, 3, 5);
        Assert.That(Assert.Throws<TrustFormatException>(() => ShamirSecretSharing.Combine([a[0], a[1], b[2]]))!.Message, Does.Contain("split"));
        Assert.That(Assert.Throws<TrustFormatException>(() => ShamirSecretSharing.Combine([a[0], a[0], a[1]]))!.Message, Does.Contain("twice"));
    }

    [Test]
    public void FieldMultiplicationMatchesKnownProducts()
    {
        // FIPS-197 §4.2: {57} • {83} = {c1}, {57} • {13} = {fe}.
        Assert.That(GaloisField256.Multiply(0x57, 0x83), Is.EqualTo(0xC1));
        Assert.That(GaloisField256.Multiply(0x57, 0x13), Is.EqualTo(0xFE));
        for (var a = 1; a < 256; a++) Assert.That(GaloisField256.Multiply((byte)a, GaloisField256.Inverse((byte)a)), Is.EqualTo(1));
    }
}
