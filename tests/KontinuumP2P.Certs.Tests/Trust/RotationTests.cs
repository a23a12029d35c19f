using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using Microsoft.Extensions.Time.Testing;
using static KontinuumP2P.Certs.Tests.TrustFixture;

namespace KontinuumP2P.Certs.Tests.Trust;

/// <summary>Anchor rotation chains, TUF style: a new set is accepted only with a threshold of the old AND the new set.</summary>
public sealed class RotationTests
{
    private readonly FakeTimeProvider _time = new(Epoch + TimeSpan.FromDays(1));

    private static AnchorTransition Transition(AnchorSet from, AnchorSet to, IEnumerable<Ed25519Identity> signers, TimeSpan? overlap = null)
    {
        var draft = AnchorTransition.Draft(from, to, Epoch, overlap ?? TimeSpan.FromDays(90));
        return draft.WithSignatures(signers.Select(k => Sign(draft.Document, k)));
    }

    [Test]
    public void OneKeyRotated()
    {
        var old = Keys(5);
        var fresh = Keys(1, tag: 3)[0];
        Ed25519Identity[] next = [.. old.Take(4), fresh];
        var trust = TrustAnchors.Create(Set(old, 3), _time);
        var result = trust.ApplyTransition(Transition(Set(old, 3), Set(next, 3, 2), [old[0], old[1], old[2], fresh]));
        Assert.That(result.Status, Is.EqualTo(TransitionStatus.Applied), result.Detail);
        Assert.That(result.Anchors.Current.Version, Is.EqualTo(2UL));
        // old[0..2] are also in the new set, so with fresh they give 4 ≥ 3 new signatures.
        var certByNew = SignedCert([old[3], fresh, old[0]]);
        Assert.That(result.Anchors.VerifyCertificate(certByNew).IsValid, Is.True);
    }

    [Test]
    public void AllKeysRotatedThroughAnIntermediateStep()
    {
        var a = Keys(5);
        var b = Keys(5, tag: 2);
        var mid = Set([.. a.Take(2), .. b.Take(3)], 3, 2);
        var end = Set(b, 3, 3);
        var trust = TrustAnchors.Create(Set(a, 3), _time);
        var step1 = trust.ApplyTransition(Transition(Set(a, 3), mid, [a[0], a[1], a[2], b[0], b[1], b[2]]));
        Assert.That(step1.Status, Is.EqualTo(TransitionStatus.Applied), step1.Detail);
        var step2 = step1.Anchors.ApplyTransition(Transition(mid, end, [a[0], b[0], b[1], b[3], b[4]]));
        Assert.That(step2.Status, Is.EqualTo(TransitionStatus.Applied), step2.Detail);
        Assert.That(step2.Anchors.Current.Anchors.Select(x => x.PublicKeyHex), Is.EquivalentTo(b.Select(k => Convert.ToHexStringLower(k.PublicKey))));
    }

    [Test]
    public void AllKeysRotatedAtOnceNeedsBothSets()
    {
        var a = Keys(5);
        var b = Keys(5, tag: 2);
        var trust = TrustAnchors.Create(Set(a, 3), _time);
        var onlyNew = trust.ApplyTransition(Transition(Set(a, 3), Set(b, 3, 2), b));
        Assert.That(onlyNew.Status, Is.EqualTo(TransitionStatus.OldThresholdNotMet));
        var onlyOld = trust.ApplyTransition(Transition(Set(a, 3), Set(b, 3, 2), a));
        Assert.That(onlyOld.Status, Is.EqualTo(TransitionStatus.NewThresholdNotMet));
        var both = trust.ApplyTransition(Transition(Set(a, 3), Set(b, 3, 2), [a[0], a[2], a[4], b[1], b[2], b[3]]));
        Assert.That(both.Status, Is.EqualTo(TransitionStatus.Applied), both.Detail);
    }

    [Test]
    public void ThresholdRaised()
    {
        var k = Keys(5);
        var trust = TrustAnchors.Create(Set(k.Take(1), 1), _time);
        var raised = Set(k, 3, 2);
        Assert.That(trust.ApplyTransition(Transition(Set(k.Take(1), 1), raised, [k[0], k[1]])).Status,
            Is.EqualTo(TransitionStatus.NewThresholdNotMet), "two new signatures are not the raised threshold 3");
        var result = trust.ApplyTransition(Transition(Set(k.Take(1), 1), raised, [k[0], k[1], k[2]]));
        Assert.That(result.Status, Is.EqualTo(TransitionStatus.Applied), result.Detail);
        var afterOverlap = Epoch + TimeSpan.FromDays(91);
        Assert.That(result.Anchors.VerifyCertificate(SignedCert(k.Take(2)), afterOverlap).IsValid, Is.False);
        Assert.That(result.Anchors.VerifyCertificate(SignedCert(k.Skip(1).Take(2))).IsValid, Is.False, "two new keys without the old one");
        Assert.That(result.Anchors.VerifyCertificate(SignedCert(k.Take(3)), afterOverlap).IsValid, Is.True);
    }

    [Test]
    public void ThresholdLowered()
    {
        var k = Keys(5);
        var lowered = Set(k.Take(4), 2, 2);
        var trust = TrustAnchors.Create(Set(k, 3), _time);
        Assert.That(trust.ApplyTransition(Transition(Set(k, 3), lowered, [k[0], k[1]])).Status,
            Is.EqualTo(TransitionStatus.OldThresholdNotMet), "the old threshold (3) still applies to the transition itself");
        var result = trust.ApplyTransition(Transition(Set(k, 3), lowered, [k[0], k[1], k[2]]));
        Assert.That(result.Status, Is.EqualTo(TransitionStatus.Applied), result.Detail);
        Assert.That(result.Anchors.VerifyCertificate(SignedCert([k[2], k[3]]), Epoch + TimeSpan.FromDays(200)).IsValid, Is.True);
    }

    [Test]
    public void VersionMustBeExactlyNextAndBoundToCurrentSet()
    {
        var k = Keys(3);
        var current = Set(k, 2);
        var trust = TrustAnchors.Create(current, _time);
        Assert.That(trust.ApplyTransition(Transition(current, Set(k, 2, 3), k)).Status, Is.EqualTo(TransitionStatus.VersionNotNext));
        Assert.That(trust.ApplyTransition(Transition(current, Set(k, 2, 1), k)).Status, Is.EqualTo(TransitionStatus.VersionNotNext));
        var other = Set(Keys(3, tag: 4), 2);
        Assert.That(trust.ApplyTransition(Transition(other, Set(k, 2, 2), k)).Status, Is.EqualTo(TransitionStatus.WrongPredecessor));
    }

    [Test]
    public void OldSetAcceptedOnlyDuringOverlap()
    {
        var a = Keys(3);
        var b = Keys(3, tag: 2);
        var trust = TrustAnchors.Create(Set(a, 2), _time);
        var rotated = trust.ApplyTransition(Transition(Set(a, 2), Set(b, 2, 2), [a[0], a[1], b[0], b[1]], TimeSpan.FromDays(90))).Anchors;
        var oldCert = SignedCert(a.Take(2));
        Assert.That(rotated.VerifyCertificate(oldCert, Epoch + TimeSpan.FromDays(89)).IsValid, Is.True);
        var after = rotated.VerifyCertificate(oldCert, Epoch + TimeSpan.FromDays(90));
        Assert.That(after.Status, Is.EqualTo(CertificateStatus.InsufficientSignatures));
        Assert.That(rotated.VerifyCertificate(SignedCert(b.Take(2)), Epoch + TimeSpan.FromDays(90)).IsValid, Is.True);
    }

    [Test]
    public void OverlapLongerThanSixMonthsIsRefused()
    {
        var k = Keys(1);
        Assert.Throws<Certs.Encoding.TrustFormatException>(() => AnchorTransition.Draft(Set(k, 1), Set(k, 1, 2), Epoch, TimeSpan.FromDays(200)));
    }

    [Test]
    public void FiftyStepCatchUp()
    {
        var keys = Enumerable.Range(0, 52).Select(i => Keys(1, tag: 10 + i)[0]).ToArray();
        var sets = Enumerable.Range(0, 51).Select(v => Set([keys[v]], 1, (ulong)v + 1)).ToArray();
        var chain = Enumerable.Range(0, 50).Select(v => Transition(sets[v], sets[v + 1], [keys[v], keys[v + 1]])).ToList();
        // Round-trip the chain through the wire form, as a node catching up would receive it.
        var received = chain.Select(t => AnchorTransition.Decode(t.Encode())).ToList();
        var trust = TrustAnchors.Create(sets[0], _time);
        var result = trust.ApplyTransitions(received);
        Assert.That(result.Status, Is.EqualTo(TransitionStatus.Applied), result.Detail);
        Assert.That(result.Anchors.Current.Version, Is.EqualTo(51UL));
        Assert.That(result.Anchors.VerifyCertificate(SignedCert([keys[50]])).IsValid, Is.True);
        Assert.That(result.Anchors.VerifyCertificate(SignedCert([keys[10]]), Epoch + TimeSpan.FromDays(200)).IsValid, Is.False);
        // A gap in the chain stops the catch-up at the step before it.
        var gapped = received.Where((_, i) => i != 25).ToList();
        var stopped = trust.ApplyTransitions(gapped);
        Assert.That(stopped.Status, Is.EqualTo(TransitionStatus.VersionNotNext));
        Assert.That(stopped.Anchors.Current.Version, Is.EqualTo(26UL));
    }
}
