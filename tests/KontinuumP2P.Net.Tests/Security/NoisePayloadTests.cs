using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Security;
using KontinuumP2P.Net.Security.Noise;

namespace KontinuumP2P.Net.Tests.Security;

public sealed class NoisePayloadTests
{
    // libp2p/specs peer-ids/peer-ids.md, "Test vectors": the Ed25519 PrivateKey 0801 1240 <seed ‖ pub>; its seed.
    private const string SpecEd25519Seed = "7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d";

    // Wire notes §5 [computed by @libp2p/noise 17]: payload for the spec key, static key 00..1f, muxers [/yamux/1.0.0].
    private const string SpecPayload =
        "0a24" + "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e" +
        "1240" + "6748f6f4c32e36aa2ef8df283a99a76275a9358b224844c53ced6ae4789262d0" +
        "0a86a6fe47a578ae243faa2a3ed9f4fd22d1bc38527f4797548e568ca43f500c" +
        "220e" + "120c" + "2f79616d75782f312e302e30";

    private static readonly byte[] StaticKey = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

    [Test]
    public void SpecKeyPayloadIsByteIdenticalToJs()
    {
        using var identity = Ed25519Identity.FromSeed(Convert.FromHexString(SpecEd25519Seed));
        var payload = NoisePayload.Encode(identity, StaticKey, ["/yamux/1.0.0"]);
        Assert.That(Convert.ToHexStringLower(payload), Is.EqualTo(SpecPayload));
    }

    [Test]
    public void SpecPayloadVerifiesAgainstItsStaticKey()
    {
        var remote = NoisePayload.Verify(Convert.FromHexString(SpecPayload), StaticKey);
        Assert.That(remote.PeerId.ToString(), Is.EqualTo("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"));
        Assert.That(remote.StreamMuxers, Is.EqualTo(new[] { "/yamux/1.0.0" }));
    }

    [Test]
    public void PayloadSignedOverAnotherStaticKeyIsRefused()
    {
        var otherKey = (byte[])StaticKey.Clone();
        otherKey[31] ^= 1;
        Assert.Throws<HandshakeException>(() => NoisePayload.Verify(Convert.FromHexString(SpecPayload), otherKey));
    }

    [Test]
    public void TamperedSignatureAndGarbageAreRefused()
    {
        var tampered = Convert.FromHexString(SpecPayload);
        tampered[40] ^= 0x80; // inside identity_sig
        Assert.Throws<HandshakeException>(() => NoisePayload.Verify(tampered, StaticKey));
        Assert.Throws<HandshakeException>(() => NoisePayload.Verify([0xff, 0xff, 0xff], StaticKey));
        Assert.Throws<HandshakeException>(() => NoisePayload.Verify([], StaticKey));
    }

    [Test]
    public void NoMuxersMeansNoExtensionsField()
    {
        using var identity = Ed25519Identity.Generate();
        var payload = NoisePayload.Encode(identity, StaticKey, []);
        var remote = NoisePayload.Verify(payload, StaticKey);
        Assert.That(remote.StreamMuxers, Is.Empty);
        Assert.That(payload, Has.Length.EqualTo(2 + 36 + 2 + 64));
    }

    [Test]
    public void MuxerSelectionLooksOnlyAtTheRemoteList()
    {
        Assert.That(NoisePayload.SelectMuxer([], ["/yamux/1.0.0"]), Is.Null);
        Assert.That(NoisePayload.SelectMuxer(["/mplex/6.7.0", "/yamux/1.0.0"], ["/yamux/1.0.0", "/mplex/6.7.0"]),
            Is.EqualTo("/mplex/6.7.0"), "the remote's order wins");
        Assert.That(NoisePayload.SelectMuxer(["/other/1", "/yamux/1.0.0"], ["/yamux/1.0.0"]), Is.EqualTo("/yamux/1.0.0"));
        Assert.Throws<HandshakeException>(() => NoisePayload.SelectMuxer(["/mplex/6.7.0"], ["/yamux/1.0.0"]));
        Assert.Throws<HandshakeException>(() => NoisePayload.SelectMuxer(["/yamux/1.0.0"], []));
    }
}
