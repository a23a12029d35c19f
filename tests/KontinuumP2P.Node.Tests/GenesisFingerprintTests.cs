using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Node.Tests;

/// <summary>The fingerprint that names a network's mDNS service: stable for one network, different between networks.</summary>
[TestFixture]
public sealed class GenesisFingerprintTests
{
    private static NetworkDefinition Network(byte seed, string name = "devnet", string prefix = NetworkDefinition.DefaultProtocolPrefix) => new()
    {
        Name = name,
        ProtocolPrefix = prefix,
        Anchors = new AnchorSet(1, [new Anchor(Enumerable.Repeat(seed, 32).ToArray(), "a")], certThreshold: 1, crlThreshold: 1, configThreshold: 1),
    };

    [Test]
    public void OpenHasNoneAndKontinuumNetworksHaveSixteenBytes()
    {
        Assert.That(NetworkDefinition.Open.GenesisFingerprint, Is.Null, "open keeps the public _p2p._udp.local");
        Assert.That(Mainnet.Definition.GenesisFingerprint, Has.Length.EqualTo(16));
    }

    [Test]
    public void TheSameGenesisGivesTheSameFingerprintAfterAWriteAndParse()
    {
        var network = Network(1);
        var reparsed = GenesisFile.Parse(GenesisFile.Write(network));
        Assert.That(reparsed.GenesisFingerprint, Is.EqualTo(network.GenesisFingerprint));
        var withBootstrap = network with { BootstrapPeers = [Multiaddr.Parse($"/ip4/10.0.0.1/tcp/4001/p2p/{Ed25519Identity.Generate().PeerId}")] };
        Assert.That(withBootstrap.GenesisFingerprint, Is.EqualTo(network.GenesisFingerprint), "bootstrap peers change over a network's life");
    }

    [Test]
    public void AnchorsNameOrPrefixTellNetworksApart()
    {
        var fingerprints = new[] { Network(1), Network(2), Network(1, name: "other"), Network(1, prefix: "/other") }
            .Select(n => Convert.ToHexString(n.GenesisFingerprint!)).ToList();
        Assert.That(fingerprints, Is.Unique);
    }
}
