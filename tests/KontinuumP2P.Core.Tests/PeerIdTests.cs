using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Core.Tests;

public class PeerIdTests
{
    [Test]
    public void Ed25519SpecKeyDerivesTheSpecPeerId()
    {
        using var identity = Ed25519Identity.FromSeed(Convert.FromHexString(SpecKeys.Ed25519Seed));
        Assert.Multiple(() =>
        {
            Assert.That(Convert.ToHexStringLower(identity.EncodedPublicKey), Is.EqualTo(SpecKeys.Ed25519EncodedPublic));
            Assert.That(identity.PeerId.ToString(), Is.EqualTo(SpecKeys.Ed25519PeerId));
            Assert.That(Convert.ToHexStringLower(identity.PeerId.Bytes), Is.EqualTo("0024" + SpecKeys.Ed25519EncodedPublic));
            Assert.That(identity.PeerId.ToCidString(),
                Is.EqualTo("bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"));
        });
    }

    [Test]
    public void SpecKeySignsHelloAsJsDoes()
    {
        using var identity = Ed25519Identity.FromSeed(Convert.FromHexString(SpecKeys.Ed25519Seed));
        var signature = identity.Sign("hello"u8);
        Assert.That(Convert.ToHexStringLower(signature), Is.EqualTo(
            "54f7fd037768d6479d14967d3df9500ba0720166b931e5e9912e58a0ac49fbfcef7aa3adc9b89d736d7411749dee70eb00ff8792ecc5e8c8c39c0b97f710d40c"));
        Assert.That(Ed25519Identity.VerifyEncoded(identity.EncodedPublicKey, "hello"u8, signature), Is.True);
        signature[0] ^= 1;
        Assert.That(Ed25519Identity.VerifyEncoded(identity.EncodedPublicKey, "hello"u8, signature), Is.False);
    }

    [Test]
    public void Secp256k1KeyUsesIdentityMultihash()
    {
        var id = PeerId.FromEncodedPublicKey(Convert.FromHexString(SpecKeys.Secp256k1EncodedPublic));
        Assert.That(id.ToString(), Is.EqualTo(SpecKeys.Secp256k1PeerId));
    }

    [Test]
    public void CidAndBase58FormsParseToTheSameId()
    {
        var fromCid = PeerId.Parse("bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe");
        var fromBase58 = PeerId.Parse("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");
        Assert.That(fromCid, Is.EqualTo(fromBase58));
        Assert.That(fromCid.ToString(), Is.EqualTo("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"));
        var ed = PeerId.Parse("bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6");
        Assert.That(ed.ToString(), Is.EqualTo(SpecKeys.Ed25519PeerId));
        Assert.That(ed.TryGetEncodedPublicKey(), Is.EqualTo(Convert.FromHexString(SpecKeys.Ed25519EncodedPublic)));
    }

    [TestCase("")]
    [TestCase("12D3KooW0000")]                                             // '0' is not base58
    [TestCase("bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")] // dag-cbor CID, not libp2p-key
    [TestCase("Qm")]
    [TestCase("xyz")]
    public void MalformedTextIsRejected(string text)
    {
        Assert.That(() => PeerId.Parse(text), Throws.InstanceOf<FormatException>());
        Assert.That(PeerId.TryParse(text, out _), Is.False);
    }

    [Test]
    public void MultihashWithWrongLengthIsRejected()
    {
        var bytes = Convert.FromHexString("0024" + SpecKeys.Ed25519EncodedPublic);
        Assert.That(() => PeerId.FromBytes(bytes[..^1]), Throws.InstanceOf<FormatException>());
        Assert.That(() => PeerId.FromBytes([0x13, 0x20, .. new byte[32]]), Throws.InstanceOf<FormatException>());
    }

    [Test]
    public void PublicKeyDecodingIsStrict()
    {
        var good = Convert.FromHexString(SpecKeys.Ed25519EncodedPublic);
        Assert.That(PublicKeyEncoding.Decode(good).Type, Is.EqualTo(KeyType.Ed25519));
        byte[] swapped = [0x12, 0x20, .. good[4..], 0x08, 0x01];
        Assert.That(() => PublicKeyEncoding.Decode(swapped), Throws.InstanceOf<FormatException>());
        byte[] trailing = [.. good, 0x00];
        Assert.That(() => PublicKeyEncoding.Decode(trailing), Throws.InstanceOf<FormatException>());
        byte[] unknownType = [0x08, 0x07, .. good[2..]];
        Assert.That(() => PublicKeyEncoding.Decode(unknownType), Throws.InstanceOf<FormatException>());
    }

    [Test]
    public void EqualityAndOrderingFollowBytes()
    {
        using var a = Ed25519Identity.Generate();
        using var b = Ed25519Identity.Generate();
        var a2 = PeerId.Parse(a.PeerId.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(a2, Is.EqualTo(a.PeerId));
            Assert.That(a2.GetHashCode(), Is.EqualTo(a.PeerId.GetHashCode()));
            Assert.That(a.PeerId == b.PeerId, Is.False);
            Assert.That(Math.Sign(a.PeerId.CompareTo(b.PeerId)), Is.EqualTo(-Math.Sign(b.PeerId.CompareTo(a.PeerId))));
        });
    }
}
