using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Trust;
using Microsoft.Extensions.Time.Testing;
using static KontinuumP2P.Certs.Tests.TrustFixture;

namespace KontinuumP2P.Certs.Tests.Trust;

/// <summary>Threshold rules in the style of the TUF conformance suite, at 1-of-1 (launch) and 3-of-5 (production).</summary>
[TestFixture(1, 1)]
[TestFixture(5, 3)]
public sealed class ThresholdTableTests(int anchorCount, int threshold)
{
    private readonly FakeTimeProvider _time = new(Epoch + TimeSpan.FromDays(10));

    private TrustAnchors Trust(out Core.Identity.Ed25519Identity[] keys)
    {
        keys = Keys(anchorCount);
        return TrustAnchors.Create(Set(keys, threshold), _time);
    }

    [Test]
    public void EveryKeyCombinationAtOrAboveThresholdIsAccepted()
    {
        var trust = Trust(out var keys);
        var tried = 0;
        for (var size = threshold; size <= anchorCount; size++)
        {
            foreach (var subset in Subsets(anchorCount, size))
            {
                var result = trust.VerifyCertificate(SignedCert(subset.Select(i => keys[i])));
                Assert.That(result.Status, Is.EqualTo(CertificateStatus.Valid), $"signers {string.Join(",", subset)}");
                tried++;
            }
        }
        Assert.That(tried, Is.EqualTo(anchorCount == 5 ? 16 : 1));
    }

    [Test]
    public void EveryCombinationBelowThresholdIsRefused()
    {
        var trust = Trust(out var keys);
        for (var size = 0; size < threshold; size++)
        {
            foreach (var subset in Subsets(anchorCount, size))
            {
                var result = trust.VerifyCertificate(SignedCert(subset.Select(i => keys[i])));
                Assert.That(result.Status, Is.EqualTo(CertificateStatus.InsufficientSignatures), $"signers {string.Join(",", subset)}");
                Assert.That(result.ValidSignatures, Is.EqualTo(size));
            }
        }
    }

    [Test]
    public void OneKeySignatureRepeatedCountsOnce()
    {
        var trust = Trust(out var keys);
        var draft = SignedCert([]);
        var cert = draft.WithSignatures([]);
        var entry = Sign(draft.Document, keys[0]);
        // WithSignatures drops exact duplicates, so build the repeated list directly as a peer could send it.
        var repeated = Certs.Certificates.Certificate.FromDocument(new SignedDocument(DocumentKind.Certificate, cert.Document.Body, Enumerable.Repeat(entry, 9).ToList()));
        var result = trust.VerifyCertificate(repeated);
        Assert.That(result.ValidSignatures, Is.EqualTo(1));
        Assert.That(result.IsValid, Is.EqualTo(threshold == 1));
    }

    [Test]
    public void ExpiredAndNotYetValidAreRefused()
    {
        var trust = Trust(out var keys);
        var cert = SignedCert(keys.Take(threshold), Body(Epoch, TimeSpan.FromDays(30)));
        Assert.That(trust.VerifyCertificate(cert, Epoch - TimeSpan.FromSeconds(1)).Status, Is.EqualTo(CertificateStatus.NotYetValid));
        Assert.That(trust.VerifyCertificate(cert, Epoch).Status, Is.EqualTo(CertificateStatus.Valid));
        Assert.That(trust.VerifyCertificate(cert, Epoch + TimeSpan.FromDays(30) - TimeSpan.FromSeconds(1)).Status, Is.EqualTo(CertificateStatus.Valid));
        Assert.That(trust.VerifyCertificate(cert, Epoch + TimeSpan.FromDays(30)).Status, Is.EqualTo(CertificateStatus.Expired));
        _time.SetUtcNow(Epoch + TimeSpan.FromDays(31));
        Assert.That(trust.VerifyCertificate(cert).Status, Is.EqualTo(CertificateStatus.Expired), "the injected clock is used");
    }

    [Test]
    public void InvalidExtraSignatureBesideEnoughValidOnesIsAccepted()
    {
        var trust = Trust(out var keys);
        var cert = SignedCert(keys.Take(threshold));
        var bad = new SignatureEntry(keys[^1].PublicKey, new byte[64]);
        var withBad = Certs.Certificates.Certificate.FromDocument(new SignedDocument(DocumentKind.Certificate, cert.Document.Body, [bad, .. cert.Signatures]));
        Assert.That(trust.VerifyCertificate(withBad).Status, Is.EqualTo(CertificateStatus.Valid));
    }

    [Test]
    public void SignaturesFromUnknownKeysDoNotCount()
    {
        var trust = Trust(out _);
        var strangers = Keys(anchorCount, tag: 5);
        Assert.That(trust.VerifyCertificate(SignedCert(strangers)).Status, Is.EqualTo(CertificateStatus.InsufficientSignatures));
    }

    [Test]
    public void SignatureForAnotherDocumentKindDoesNotVerify()
    {
        var trust = Trust(out var keys);
        var body = CertificateCodec.Encode(Body());
        // Signed with the CRL domain prefix over the same bytes: must not count for a certificate.
        var crlDomain = new SignedDocument(DocumentKind.Crl, body, []);
        var sigs = keys.Take(threshold).Select(k => Sign(crlDomain, k)).ToList();
        var cert = Certs.Certificates.Certificate.FromDocument(new SignedDocument(DocumentKind.Certificate, body, sigs));
        Assert.That(trust.VerifyCertificate(cert).Status, Is.EqualTo(CertificateStatus.InsufficientSignatures));
    }

    [Test]
    public void AlteredBodyInvalidatesSignatures()
    {
        var trust = Trust(out var keys);
        var cert = SignedCert(keys.Take(threshold));
        var altered = Certs.Certificates.Certificate.Create(cert.Body with { Serial = cert.Body.Serial + 1 }, cert.Signatures);
        Assert.That(trust.VerifyCertificate(altered).Status, Is.EqualTo(CertificateStatus.InsufficientSignatures));
    }
}

/// <summary>Rules that need their own key counts.</summary>
public sealed class ThresholdRuleTests
{
    private readonly FakeTimeProvider _time = new(Epoch + TimeSpan.FromDays(1));

    [Test]
    public void TwoOfThreeRequiredSignaturesAreRefused()
    {
        var keys = Keys(5);
        var trust = TrustAnchors.Create(Set(keys, 3), _time);
        var result = trust.VerifyCertificate(SignedCert(keys.Take(2)));
        Assert.That(result.Status, Is.EqualTo(CertificateStatus.InsufficientSignatures));
        Assert.That((result.ValidSignatures, result.RequiredSignatures), Is.EqualTo((2, 3)));
    }

    [Test]
    public void OneKeyRepeatedNineTimesAgainstThresholdSixIsRefused()
    {
        var keys = Keys(9);
        var trust = TrustAnchors.Create(Set(keys, 6), _time);
        var draft = SignedCert([]);
        var entry = Sign(draft.Document, keys[4]);
        var cert = Certs.Certificates.Certificate.FromDocument(new SignedDocument(DocumentKind.Certificate, draft.Document.Body, Enumerable.Repeat(entry, 9).ToList()));
        var result = trust.VerifyCertificate(cert);
        Assert.That(result.Status, Is.EqualTo(CertificateStatus.InsufficientSignatures));
        Assert.That(result.ValidSignatures, Is.EqualTo(1));
        Assert.That(trust.VerifyCertificate(SignedCert(keys.Take(6))).IsValid, Is.True, "six distinct keys pass");
    }

    [Test]
    public void SamePublicKeyUnderTwoKeyIdsCountsOnce()
    {
        var keys = Keys(3);
        // Listing one key under two labels (two key ids in TUF terms) is refused when the set is loaded …
        var ex = Assert.Throws<TrustConfigurationException>(() => new AnchorSet(1,
            [new Anchor(keys[0].PublicKey, "a"), new Anchor(keys[0].PublicKey.ToArray(), "a-again"), new Anchor(keys[1].PublicKey, "b")], 2, 2, 2));
        Assert.That(ex!.Message, Does.Contain("listed twice"));
        // … and two signature entries by the same key (different byte arrays) count once against threshold 2.
        var trust = TrustAnchors.Create(Set(keys, 2), _time);
        var draft = SignedCert([]);
        var first = Sign(draft.Document, keys[0]);
        var second = new SignatureEntry(keys[0].PublicKey.ToArray(), first.Signature.ToArray());
        var cert = Certs.Certificates.Certificate.FromDocument(new SignedDocument(DocumentKind.Certificate, draft.Document.Body, [first, second]));
        Assert.That(trust.VerifyCertificate(cert).ValidSignatures, Is.EqualTo(1));
        Assert.That(trust.VerifyCertificate(cert).IsValid, Is.False);
    }

    [TestCase(0)]
    [TestCase(-1)]
    [TestCase(6)]
    public void UnusableThresholdIsRefusedAtLoad(int threshold)
    {
        var keys = Keys(5);
        Assert.Throws<TrustConfigurationException>(() => Set(keys, threshold));
        Assert.Throws<TrustConfigurationException>(() => new AnchorSet(1, keys.Select(k => new Anchor(k.PublicKey, "x")), 3, 3, threshold));
    }

    [Test]
    public void SeparateThresholdsForCertificatesCrlsAndConfig()
    {
        var keys = Keys(5);
        var set = new AnchorSet(1, keys.Select((k, i) => new Anchor(k.PublicKey, $"k{i}")), 3, 3, 2);
        var trust = TrustAnchors.Create(set, _time);
        var twoSigned = SignedCert(keys.Take(2));
        Assert.That(trust.MeetsThreshold(twoSigned.Document, ThresholdKind.Config, _time.GetUtcNow()), Is.True);
        Assert.That(trust.MeetsThreshold(twoSigned.Document, ThresholdKind.Certificate, _time.GetUtcNow()), Is.False);
        Assert.That(trust.MeetsThreshold(twoSigned.Document, ThresholdKind.Crl, _time.GetUtcNow()), Is.False);
    }

    [Test]
    public void SignatureCacheNeverChangesTheDecision()
    {
        var keys = Keys(5);
        var trust = TrustAnchors.Create(Set(keys, 3), _time);
        var cert = SignedCert(keys.Take(3), Body(Epoch, TimeSpan.FromDays(30)));
        Assert.That(trust.VerifyCertificate(cert).IsValid, Is.True);
        Assert.That(trust.VerifyCertificate(cert).IsValid, Is.True, "second time from the cache");
        // Same body, one signature corrupted: the cached triples do not cover it.
        var sigs = cert.Signatures.ToList();
        var broken = sigs[0].Signature.ToArray();
        broken[5] ^= 1;
        sigs[0] = sigs[0] with { Signature = broken };
        var tampered = Certs.Certificates.Certificate.FromDocument(new SignedDocument(DocumentKind.Certificate, cert.Document.Body, sigs));
        Assert.That(trust.VerifyCertificate(tampered).ValidSignatures, Is.EqualTo(2));
        // Time is still checked on a cache hit.
        Assert.That(trust.VerifyCertificate(cert, Epoch + TimeSpan.FromDays(31)).Status, Is.EqualTo(CertificateStatus.Expired));
        // And a revoked anchor does not count even though its signature is cached.
        var revoked = trust.WithRevokedAnchors([Convert.ToHexStringLower(keys[0].PublicKey)]);
        Assert.That(revoked.VerifyCertificate(cert).Status, Is.EqualTo(CertificateStatus.InsufficientSignatures));
    }

    [Test]
    public void AnchorSetRoundTripsCanonically()
    {
        var set = Set(Keys(5), 3);
        var bytes = set.Encode();
        var back = AnchorSet.Decode(bytes);
        Assert.That(back.Encode(), Is.EqualTo(bytes));
        Assert.That(back.Anchors.Select(a => a.KeyId), Is.EqualTo(set.Anchors.Select(a => a.KeyId)));
        var reordered = new AnchorSet(1, set.Anchors.Reverse(), 3, 3, 3);
        Assert.That(reordered.Hash(), Is.EqualTo(set.Hash()), "order of input does not change the canonical form");
    }
}
