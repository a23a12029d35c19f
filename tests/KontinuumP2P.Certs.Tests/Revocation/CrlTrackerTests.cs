using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using Microsoft.Extensions.Time.Testing;
using static KontinuumP2P.Certs.Tests.TrustFixture;

namespace KontinuumP2P.Certs.Tests.Revocation;

public sealed class CrlTrackerTests
{
    private readonly FakeTimeProvider _time = new(Epoch + TimeSpan.FromDays(1));
    private string _dir = "";
    private Ed25519Identity[] _keys = [];
    private TrustAnchors _trust = null!;

    private string StatePath => Path.Combine(_dir, "crl-state.json");

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("kp-crl-").FullName;
        _keys = Keys(5);
        _trust = TrustAnchors.Create(Set(_keys, 3), _time);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static Crl Crl(ulong number, IEnumerable<Ed25519Identity> signers, IReadOnlyList<RevokedNode>? nodes = null,
        IReadOnlyList<RevokedAnchor>? anchors = null, TimeSpan? life = null)
    {
        var issued = Epoch + TimeSpan.FromMinutes(number);
        var draft = Certs.Revocation.Crl.Create(new CrlBody(number, issued, issued + (life ?? TimeSpan.FromDays(7)), nodes ?? [], anchors ?? [], 1));
        return draft.WithSignatures(signers.Select(k => Sign(draft.Document, k)));
    }

    private CrlTracker Tracker() => new(_trust, new CrlStateFile(StatePath), _time);

    [Test]
    public void AcceptsNewerAndRevokesListedNodes()
    {
        var tracker = Tracker();
        var cert = SignedCert(_keys.Take(3));
        Assert.That(_trust.VerifyCertificate(cert, tracker).IsValid, Is.True);
        var crl = Crl(1, _keys.Take(3), [new RevokedNode(cert.Body.NodeId, RevocationReason.SubscriptionLapsed, Epoch)]);
        var result = tracker.Accept(crl);
        Assert.That(result.Status, Is.EqualTo(CrlAcceptanceStatus.Accepted), result.Detail);
        Assert.That(_trust.VerifyCertificate(cert, tracker).Status, Is.EqualTo(CertificateStatus.Revoked));
        Assert.That(tracker.Find(cert.Body.NodeId.Span)!.Reason, Is.EqualTo(RevocationReason.SubscriptionLapsed));
        Assert.That(tracker.Accept(crl).Status, Is.EqualTo(CrlAcceptanceStatus.AlreadyCurrent));
    }

    [Test]
    public void TooFewSignaturesAreRefusedAndNothingIsPersisted()
    {
        var tracker = Tracker();
        var result = tracker.Accept(Crl(1, _keys.Take(2)));
        Assert.That(result.Status, Is.EqualTo(CrlAcceptanceStatus.InsufficientSignatures));
        Assert.That(File.Exists(StatePath), Is.False);
    }

    [Test]
    public void RollbackIsRefusedAcrossOneHundredRestarts()
    {
        var old = Crl(1, _keys.Take(3));
        for (ulong restart = 1; restart <= 100; restart++)
        {
            var tracker = Tracker();
            Assert.That(tracker.HighWaterMark, Is.EqualTo(restart == 1 ? 0UL : restart), "the mark survives the restart");
            Assert.That(tracker.Accept(Crl(restart + 1, _keys.Skip(1).Take(3))).Status, Is.EqualTo(CrlAcceptanceStatus.Accepted));
            var rollback = tracker.Accept(old);
            Assert.That(rollback.Status, Is.EqualTo(CrlAcceptanceStatus.Rollback), $"restart {restart}");
            Assert.That(rollback.HighWaterMark, Is.EqualTo(restart + 1));
        }
        Assert.That(Tracker().HighWaterMark, Is.EqualTo(101UL));
    }

    [Test]
    public void SameNumberDifferentContentRaisesEquivocation()
    {
        var tracker = Tracker();
        tracker.Accept(Crl(7, _keys.Take(3)));
        var conflicting = Crl(7, _keys.Skip(2), [new RevokedNode(new byte[] { 0, 4, 1, 2, 3, 4 }, RevocationReason.Abuse, Epoch)]);
        var ex = Assert.Throws<CrlEquivocationException>(() => tracker.Accept(conflicting));
        Assert.That(ex!.CrlNumber, Is.EqualTo(7UL));
        // After a restart the stored hash still detects it.
        Assert.Throws<CrlEquivocationException>(() => Tracker().Accept(conflicting));
        // An unsigned conflicting CRL is just refused, not an alarm.
        Assert.That(Tracker().Accept(Crl(7, _keys.Take(1), conflicting.Body.RevokedNodes)).Status, Is.EqualTo(CrlAcceptanceStatus.InsufficientSignatures));
    }

    [Test]
    public void CrlPastNextUpdateIsReportedStale()
    {
        var tracker = Tracker();
        Assert.That(tracker.IsStale, Is.True, "no CRL yet");
        var crl = Crl(1, _keys.Take(3), life: TimeSpan.FromDays(2));
        Assert.That(tracker.Accept(crl).Stale, Is.False);
        Assert.That(tracker.IsStale, Is.False);
        _time.SetUtcNow(crl.Body.NextUpdate + TimeSpan.FromSeconds(1));
        Assert.That(tracker.IsStale, Is.True);
        Assert.That(tracker.Accept(crl).Stale, Is.True);
    }

    [Test]
    public void CompromisedAnchorRevokedByTheRemainingFour()
    {
        var tracker = Tracker();
        var compromised = _keys[4];
        var revoke = new RevokedAnchor(compromised.PublicKey, RevocationReason.KeyCompromise, Epoch);
        var byThree = tracker.Accept(Crl(1, _keys.Take(3), anchors: [revoke]));
        Assert.That(byThree.Status, Is.EqualTo(CrlAcceptanceStatus.AnchorRevocationRefused), "all remaining anchors must sign");
        var byTheCompromisedToo = tracker.Accept(Crl(1, [.. _keys.Take(3), compromised], anchors: [revoke]));
        Assert.That(byTheCompromisedToo.Status, Is.EqualTo(CrlAcceptanceStatus.AnchorRevocationRefused), "the revoked key's own signature does not count");
        var result = tracker.Accept(Crl(1, _keys.Take(4), anchors: [revoke]));
        Assert.That(result.Status, Is.EqualTo(CrlAcceptanceStatus.Accepted), result.Detail);
        var anchors = tracker.Anchors;
        Assert.That(anchors.ActiveAnchorCount, Is.EqualTo(4));
        Assert.That(anchors.Current.CertThreshold, Is.EqualTo(3), "3-of-4 until the fifth key is restored");
        Assert.That(anchors.VerifyCertificate(SignedCert([_keys[0], _keys[1], compromised])).IsValid, Is.False);
        Assert.That(anchors.VerifyCertificate(SignedCert([_keys[0], _keys[1], _keys[2]])).IsValid, Is.True);
        // The revocation survives a restart.
        Assert.That(Tracker().Anchors.ActiveAnchorCount, Is.EqualTo(4));
        // Restoring five keys: rotate from the 4 remaining to a set with a fresh fifth key.
        var fifth = Keys(1, tag: 7)[0];
        var next = Set([.. _keys.Take(4), fifth], 3, 2);
        var draft = AnchorTransition.Draft(anchors.Current, next, Epoch, TimeSpan.FromDays(90));
        var signed = draft.WithSignatures(new[] { _keys[0], _keys[1], _keys[2], fifth }.Select(k => Sign(draft.Document, k)));
        Assert.That(anchors.ApplyTransition(signed).Status, Is.EqualTo(TransitionStatus.Applied));
        var withCompromised = draft.WithSignatures(new[] { _keys[0], _keys[1], compromised }.Select(k => Sign(draft.Document, k)));
        Assert.That(anchors.ApplyTransition(withCompromised).Status, Is.EqualTo(TransitionStatus.OldThresholdNotMet));
    }

    [Test]
    public void RevocationThatWouldBreakTheThresholdIsRefused()
    {
        var keys = Keys(3);
        var trust = TrustAnchors.Create(Set(keys, 3), _time);
        var tracker = new CrlTracker(trust, new CrlStateFile(StatePath), _time);
        var result = tracker.Accept(Crl(1, keys.Take(2), anchors: [new RevokedAnchor(keys[2].PublicKey, RevocationReason.KeyCompromise, Epoch)]));
        Assert.That(result.Status, Is.EqualTo(CrlAcceptanceStatus.AnchorRevocationRefused));
        Assert.That(result.Detail, Does.Contain("rotate"));
    }

    [Test]
    public void CorruptStateFileIsAnErrorNotAReset()
    {
        File.WriteAllText(StatePath, "{ not json");
        var ex = Assert.Throws<TrustFormatException>(() => Tracker());
        Assert.That(ex!.Message, Does.Contain(StatePath));
    }
}
