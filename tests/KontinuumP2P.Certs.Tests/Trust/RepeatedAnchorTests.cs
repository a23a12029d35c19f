using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Trust;

namespace KontinuumP2P.Certs.Tests.Trust;

/// <summary>A document listing one anchor many times costs at most two signature checks for it, not one per listing.</summary>
public sealed class RepeatedAnchorTests
{
    [Test]
    public void An_anchor_listed_63_times_is_checked_at_most_twice()
    {
        var keys = TrustFixture.Keys(3, tag: 64);
        var set = TrustFixture.Set(keys, threshold: 2);
        var draft = Certs.Certificates.Certificate.Create(TrustFixture.Body());
        var junk = Enumerable.Range(0, 63).Select(i => new SignatureEntry(keys[0].PublicKey, Enumerable.Repeat((byte)i, 64).ToArray()));
        var certificate = draft.WithSignatures(junk.Append(TrustFixture.Sign(draft.Document, keys[1])));
        var keyring = new AnchorKeyring(set, new HashSet<string>());

        var valid = keyring.CountValid(certificate.Document, enough: 2);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(valid, Is.EqualTo(1), "only the second anchor's signature is good");
            Assert.That(keyring.SignatureChecks, Is.EqualTo(AnchorKeyring.MaxChecksPerAnchor + 1), "bounded per anchor, however often it is listed");
        }
    }
}
