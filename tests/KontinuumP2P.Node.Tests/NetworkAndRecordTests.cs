using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Networks;
using KontinuumP2P.Node.Records;

namespace KontinuumP2P.Node.Tests;

public class NetworkAndRecordTests
{
    [Test]
    public void GenesisRoundTripsAndBadFieldsAreNamed()
    {
        using var authority = new DevnetAuthority("lab", 5, 3, TimeProvider.System);
        using var key = Ed25519Identity.Generate();
        var network = authority.Network with
        {
            BootstrapPeers = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001").WithPeerId(key.PeerId)],
            ProtocolPrefix = "/lab",
        };
        var parsed = GenesisFile.Parse(GenesisFile.Write(network));
        Assert.Multiple(() =>
        {
            Assert.That(parsed.Name, Is.EqualTo("lab"));
            Assert.That(parsed.KadProtocolId, Is.EqualTo("/lab/kad/1.0.0"));
            Assert.That(parsed.CertificateProtocolId, Is.EqualTo("/lab/cert/1.0.0"));
            Assert.That(parsed.Anchors!.CertThreshold, Is.EqualTo(3));
            Assert.That(parsed.Anchors.Anchors, Has.Count.EqualTo(5));
            Assert.That(parsed.BootstrapPeers, Is.EqualTo(network.BootstrapPeers));
        });
        Assert.That(() => GenesisFile.Parse("{\"network\":\"x\"}"),
            Throws.InstanceOf<NetworkDefinitionException>().With.Message.Contains("anchors"));
        Assert.That(() => GenesisFile.Parse(GenesisFile.Write(network).Replace("/ip4/127.0.0.1/tcp/4001/p2p/", "/ip4/127.0.0.1/tcp/4001/x/")),
            Throws.InstanceOf<NetworkDefinitionException>().With.Message.Contains("bootstrap"));
        Assert.That(() => GenesisFile.Parse("not json"), Throws.InstanceOf<NetworkDefinitionException>().With.Message.Contains("JSON"));
        Assert.That(() => NetworkDefinition.Resolve("/no/such/genesis.json"),
            Throws.InstanceOf<NetworkDefinitionException>().With.Message.Contains("neither"));
    }

    [Test]
    public void MainnetIsAPlaceholderThatAdmitsNoOne()
    {
        var mainnet = NetworkDefinition.Resolve("mainnet");
        Assert.That(mainnet.AdmissionEnforced, Is.True);
        Assert.That(mainnet.Anchors!.Anchors.Single().Label, Is.EqualTo("placeholder"));
        Assert.That(NetworkDefinition.Resolve("open").AdmissionEnforced, Is.False);
    }

    [Test]
    public void NodeRecordValidatorAcceptsOnlyWellSignedRecordsUnderTheirOwnKey()
    {
        using var authority = new DevnetAuthority("lab", 1, 1, TimeProvider.System);
        using var node = Ed25519Identity.Generate();
        using var other = Ed25519Identity.Generate();
        var anchors = KontinuumP2P.Certs.Trust.TrustAnchors.Create(authority.Network.Anchors!, TimeProvider.System);
        var validator = new NodeRecordValidator(() => anchors, null);
        var certificate = authority.IssueCertificate(node, TimeSpan.FromDays(1));
        var record = NodeRecord.Create(certificate, [Multiaddr.Parse("/ip4/127.0.0.1/tcp/1")], 7, node);
        var bytes = record.Encode();

        Assert.That(validator.Validate(RecordKeys.ForNode(node.PeerId), bytes).IsValid, Is.True);
        Assert.That(validator.Validate(RecordKeys.ForNode(other.PeerId), bytes).Reason, Is.EqualTo("key-mismatch"));
        var tampered = NodeRecord.Decode(bytes);
        // Swap the address of a valid record for another without re-signing: the signature no longer matches.
        var message = KontinuumP2P.Node.Protos.NodeRecordMessage.Parser.ParseFrom(bytes);
        message.Addrs.Clear();
        message.Addrs.Add(Google.Protobuf.ByteString.CopyFrom(Multiaddr.Parse("/ip4/10.0.0.1/tcp/1").ToBytes()));
        var spliced = Google.Protobuf.MessageExtensions.ToByteArray(message);
        Assert.That(validator.Validate(RecordKeys.ForNode(node.PeerId), spliced).Reason, Is.EqualTo("bad-signature"));
        Assert.That(validator.Validate(RecordKeys.ForNode(node.PeerId), new byte[] { 1, 2, 3 }).Reason, Is.EqualTo("malformed"));
        Assert.That(() => NodeRecord.Create(certificate, [], 1, other), Throws.ArgumentException);
        Assert.That(tampered.Sequence, Is.EqualTo(7UL));

        var newer = NodeRecord.Create(certificate, [], 9, node).Encode();
        Assert.That(validator.Select(RecordKeys.ForNode(node.PeerId), [bytes, newer]), Is.EqualTo(1));
    }

    [Test]
    public void CrlValidatorNeedsTheThresholdAndAnAnchorKey()
    {
        using var authority = new DevnetAuthority("lab", 3, 2, TimeProvider.System);
        var anchors = KontinuumP2P.Certs.Trust.TrustAnchors.Create(authority.Network.Anchors!, TimeProvider.System);
        var validator = new CrlRecordValidator(() => anchors);
        var crl = authority.IssueCrl([], TimeSpan.FromDays(1));
        var anchorKey = authority.Network.Anchors!.Anchors[0].PublicKey.Span;
        Assert.That(validator.Validate(RecordKeys.ForCrl(anchorKey), crl.Encode()).IsValid, Is.True);
        Assert.That(validator.Validate(RecordKeys.ForCrl(new byte[32]), crl.Encode()).Reason, Is.EqualTo("unknown-anchor"));
        var underSigned = crl with { };
        var oneSignature = KontinuumP2P.Certs.Revocation.Crl.Create(crl.Body, [crl.Document.Signatures[0]]);
        Assert.That(validator.Validate(RecordKeys.ForCrl(anchorKey), oneSignature.Encode()).Reason, Is.EqualTo("insufficient-signatures"));
        var next = authority.IssueCrl([], TimeSpan.FromDays(1));
        Assert.That(validator.Select(RecordKeys.ForCrl(anchorKey), [underSigned.Encode(), next.Encode()]), Is.EqualTo(1));
    }
}
