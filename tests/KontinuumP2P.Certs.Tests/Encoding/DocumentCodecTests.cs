using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Protos;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using Google.Protobuf;
using static KontinuumP2P.Certs.Tests.TrustFixture;

namespace KontinuumP2P.Certs.Tests.Encoding;

public sealed class DocumentCodecTests
{
    [Test]
    public void CertificateRoundTripsWithEveryField()
    {
        var keys = Keys(3);
        var body = Body() with { Tenancy = Tenancy.Single, ServedIdentity = new byte[] { 9, 8, 7 }, Operator = "byo:vps" };
        var cert = SignedCert(keys, body);
        var back = Certificate.Decode(cert.Encode());
        Assert.That(back.Document.Body.ToArray(), Is.EqualTo(cert.Document.Body.ToArray()));
        Assert.That(back.Body.Provider, Is.EqualTo("hetzner"));
        Assert.That(back.Body.GeoZone, Is.EqualTo("eu-west"));
        Assert.That(back.Body.Capabilities, Is.EqualTo(new[] { "dht", "mailbox" }), "sorted canonically");
        Assert.That(back.Body.ServedIdentity.ToArray(), Is.EqualTo(new byte[] { 9, 8, 7 }));
        Assert.That(back.Body.Capacity, Is.EqualTo(body.Capacity));
        Assert.That(back.Body.PeerId.ToString(), Does.StartWith("12D3KooW"));
        Assert.That(back.Signatures, Has.Count.EqualTo(3));
    }

    [Test]
    public void EncodingIsDeterministicAndIndependentOfCapabilityOrder()
    {
        var a = CertificateCodec.Encode(Body() with { Capabilities = ["mailbox", "dht", "archive"] });
        var b = CertificateCodec.Encode(Body() with { Capabilities = ["archive", "mailbox", "dht", "dht"] });
        Assert.That(a, Is.EqualTo(b));
        Assert.That(DomainPrefix.SignedMessage(DocumentKind.Certificate, a)[..18], Is.EqualTo("kontinuum-cert-v1\0"u8.ToArray()));
    }

    [Test]
    public void CanonicalBytesParseWithTheGeneratedProtobufType()
    {
        var body = Body();
        var parsed = CertificateBodyProto.Parser.ParseFrom(CertificateCodec.Encode(body));
        Assert.That(parsed.GeoZone, Is.EqualTo(body.GeoZone));
        Assert.That(parsed.Serial, Is.EqualTo(body.Serial));
    }

    [Test]
    public void NonCanonicalBodyIsRefused()
    {
        var proto = CertificateBodyProto.Parser.ParseFrom(CertificateCodec.Encode(Body()));
        proto.Capabilities.Clear();
        proto.Capabilities.Add("mailbox");
        proto.Capabilities.Add("dht");
        var ex = Assert.Throws<TrustFormatException>(() => CertificateCodec.Decode(proto.ToByteArray()));
        Assert.That(ex!.Message, Does.Contain("canonical"));
    }

    [TestCase(new byte[] { 0xFF, 0xFF, 0xFF }, "protobuf")]
    [TestCase(new byte[] { }, "empty")]
    [TestCase(new byte[] { 0x08, 0x02, 0x12, 0x01, 0x00 }, "expected a certificate")]
    public void MalformedCertificatesGiveClearErrors(byte[] bytes, string expected)
    {
        var ex = Assert.Throws<TrustFormatException>(() => Certificate.Decode(bytes));
        Assert.That(ex!.Message, Does.Contain(expected));
    }

    [Test]
    public void OversizedCertificateIsRefusedBeforeParsing()
    {
        var ex = Assert.Throws<TrustFormatException>(() => Certificate.Decode(new byte[Certificate.MaxEncodedLength + 1]));
        Assert.That(ex!.Message, Does.Contain("limit"));
    }

    [Test]
    public void FieldErrorsNameTheField()
    {
        Assert.That(Assert.Throws<TrustFormatException>(() => CertificateCodec.Encode(Body() with { Operator = "nobody" }))!.Message, Does.Contain("operator"));
        Assert.That(Assert.Throws<TrustFormatException>(() => CertificateCodec.Encode(Body() with { GeoZone = "EU WEST" }))!.Message, Does.Contain("geo_zone"));
        Assert.That(Assert.Throws<TrustFormatException>(() => CertificateCodec.Encode(Body() with { Tier = 3 }))!.Message, Does.Contain("tier"));
        Assert.That(Assert.Throws<TrustFormatException>(() => CertificateCodec.Encode(Body() with { NodeId = new byte[] { 0, 1, 2 } }))!.Message, Does.Contain("node_id"));
        var wrongShape = new SignedDocumentProto { Kind = 1, Body = ByteString.CopyFrom(CertificateCodec.Encode(Body())) };
        wrongShape.Signatures.Add(new SignatureProto { PublicKey = ByteString.CopyFrom(new byte[31]), Signature = ByteString.CopyFrom(new byte[64]) });
        Assert.That(Assert.Throws<TrustFormatException>(() => Certificate.Decode(wrongShape.ToByteArray()))!.Message, Does.Contain("31-byte public key"));
    }

    [Test]
    public void CrlRoundTripsAndMalformedCrlsFail()
    {
        var keys = Keys(1);
        var body = new CrlBody(3, Epoch, Epoch + TimeSpan.FromDays(7),
            [new RevokedNode(CertificateBody.NodeIdOf(keys[0].PublicKey), RevocationReason.Abuse, Epoch)],
            [new RevokedAnchor(keys[0].PublicKey, RevocationReason.KeyCompromise, Epoch)], 1);
        var draft = Crl.Create(body);
        var crl = draft.WithSignatures([Sign(draft.Document, keys[0])]);
        var back = Crl.Decode(crl.Encode());
        Assert.That(back.Body.CrlNumber, Is.EqualTo(3UL));
        Assert.That(back.Body.RevokedNodes.Single().Reason, Is.EqualTo(RevocationReason.Abuse));
        Assert.That(Assert.Throws<TrustFormatException>(() => Crl.Decode(SignedCert(keys).Encode()))!.Message, Does.Contain("expected a CRL"));
        Assert.That(Assert.Throws<TrustFormatException>(() => Crl.Create(body with { NextUpdate = Epoch }))!.Message, Does.Contain("next_update"));
        var twice = body with { RevokedNodes = [body.RevokedNodes[0], body.RevokedNodes[0]] };
        Assert.That(Assert.Throws<TrustFormatException>(() => twice.Encode())!.Message, Does.Contain("twice"));
    }

    [Test]
    public void PartialSignatureIsBoundToItsDraft()
    {
        var key = Keys(1)[0];
        var draft = Certificate.Create(Body());
        var other = Certificate.Create(Body(serial: 2));
        var partial = PartialSignature.Decode(PartialSignature.Create(draft.Document, key).Encode());
        Assert.That(partial.IsValidFor(draft.Document), Is.True);
        Assert.That(partial.IsValidFor(other.Document), Is.False);
    }

    [Test]
    public void TransitionRoundTrips()
    {
        var k = Keys(3);
        var draft = AnchorTransition.Draft(Set(k, 2), Set(k, 2, 2), Epoch, TimeSpan.FromDays(120));
        var back = AnchorTransition.Decode(draft.Encode());
        Assert.That(back.Body.NewSet.Version, Is.EqualTo(2UL));
        Assert.That(back.Body.OverlapUntil - back.Body.IssuedAt, Is.EqualTo(TimeSpan.FromDays(120)));
    }
}
