using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using Microsoft.Extensions.Time.Testing;
using static KontinuumP2P.Certs.Tests.TrustFixture;

namespace KontinuumP2P.Certs.Tests.Ceremony;

public sealed class CeremonyFilesTests
{
    private readonly FakeTimeProvider _time = new(Epoch + TimeSpan.FromDays(1));

    [Test]
    public void AnchorsFileRoundTripsAndNamesBadFields()
    {
        var set = Set(Keys(5), 3, configThreshold: 2);
        var back = AnchorSetJson.Parse(AnchorSetJson.Write(set));
        Assert.That(back.Hash(), Is.EqualTo(set.Hash()));
        Assert.That(Assert.Throws<TrustFormatException>(() => AnchorSetJson.Parse("""{"version":1,"anchors":[]}"""))!.Message, Does.Contain("certThreshold"));
        Assert.That(Assert.Throws<TrustFormatException>(() => AnchorSetJson.Parse("""{"version":1,"certThreshold":1,"crlThreshold":1,"configThreshold":1,"anchors":[{"publicKey":"zz"}]}"""))!.Message, Does.Contain("not hex"));
        Assert.That(Assert.Throws<TrustFormatException>(() => AnchorSetJson.Parse("[1,2"))!.Message, Does.Contain("malformed"));
    }

    [Test]
    public void RequestBecomesAValidBodyAndRefusesUnknownFields()
    {
        var key = Keys(1)[0];
        var request = new CertificateRequest
        {
            NodePublicKey = Convert.ToHexStringLower(key.PublicKey),
            Tenancy = "single",
            ServedIdentity = "abcd",
            Capabilities = ["mailbox", "dht"],
            Provider = "ovh",
            GeoZone = "us-east",
            ValidDays = 30,
        };
        var body = CertificateRequest.Parse(request.ToJson()).ToBody(Epoch, 9);
        Assert.That(body.NodeId.ToArray(), Is.EqualTo(key.PeerId.ToByteArray()));
        Assert.That(body.ValidUntil - body.IssuedAt, Is.EqualTo(TimeSpan.FromDays(30)));
        Assert.That(body.Capabilities, Is.EqualTo(new[] { "dht", "mailbox" }));
        Assert.That(Assert.Throws<TrustFormatException>(() => CertificateRequest.Parse("""{"nodePublicKey":"00","colour":"red"}"""))!.Message, Does.Contain("colour"));
        Assert.That(Assert.Throws<TrustFormatException>(() => (request with { Tenancy = "shared" }).ToBody(Epoch, 1))!.Message, Does.Contain("tenancy"));
    }

    [Test]
    public void AssemblerRefusesForeignPartialsAndShortThresholds()
    {
        var keys = Keys(5);
        var trust = TrustAnchors.Create(Set(keys, 3), _time);
        var draft = Certificate.Create(Body()).Document;
        var partials = keys.Take(3).Select(k => PartialSignature.Create(draft, k)).ToList();
        var assembled = DocumentAssembler.Assemble(draft, partials, trust);
        Assert.That(trust.VerifyCertificate(Certificate.FromDocument(assembled)).IsValid, Is.True);

        var ex = Assert.Throws<ThresholdNotMetException>(() => DocumentAssembler.Assemble(draft, partials.Take(2), trust));
        Assert.That(ex!.Message, Does.Contain("2 of 3"));
        var foreign = PartialSignature.Create(Certificate.Create(Body(serial: 99)).Document, keys[3]);
        Assert.Throws<TrustFormatException>(() => DocumentAssembler.Assemble(draft, [.. partials, foreign], trust));

        var crlDraft = Crl.Create(new CrlBody(1, Epoch, Epoch + TimeSpan.FromDays(7), [],
            [new RevokedAnchor(keys[4].PublicKey, RevocationReason.KeyCompromise, Epoch)], 1)).Document;
        var threeForRevocation = keys.Take(3).Select(k => PartialSignature.Create(crlDraft, k));
        Assert.That(Assert.Throws<ThresholdNotMetException>(() => DocumentAssembler.Assemble(crlDraft, threeForRevocation, trust))!.Message,
            Does.Contain("all 4 remaining"));
    }
}
