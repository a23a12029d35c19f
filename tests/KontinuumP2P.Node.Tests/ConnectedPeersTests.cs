using KontinuumP2P.Core.Identity;
using KontinuumP2P.Node.Admission;

namespace KontinuumP2P.Node.Tests;

/// <summary>
/// The connected-peer table of <see cref="CertificateAdmission"/>: a verdict is decided once (later decisions lose,
/// waiters see the winner), replaced only against the decision it was read from, and a peer that leaves takes its
/// entry with it.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class ConnectedPeersTests
{
    private static PeerId NewPeer() => Ed25519Identity.Generate().PeerId;

    private static AdmissionVerdict Verdict(PeerId peer, AdmissionStatus status, string reason) => new(peer, status, null, reason);

    [Test]
    public async Task AWaiterBeforeTheDecisionGetsItAndTheFirstDecisionWins()
    {
        var peers = new ConnectedPeers();
        var peer = NewPeer();
        peers.Add(peer, new byte[] { 1, 2, 3 });
        Assert.That(peers.GetStatus(peer), Is.EqualTo(AdmissionStatus.Pending));
        Assert.That(peers.IsDecided(peer), Is.False);
        var waiting = peers.WaitAsync(peer)!;
        Assert.That(waiting.IsCompleted, Is.False);

        Assert.That(peers.Decide(Verdict(peer, AdmissionStatus.Admitted, "valid certificate"), out var current), Is.True);
        Assert.That(current!.Status, Is.EqualTo(AdmissionStatus.Admitted));
        Assert.That((await waiting).Reason, Is.EqualTo("valid certificate"));

        Assert.That(peers.Decide(Verdict(peer, AdmissionStatus.ClientOnly, "no certificate offered"), out current), Is.False, "decided once");
        Assert.That(current!.Status, Is.EqualTo(AdmissionStatus.Admitted));
        Assert.That((await peers.WaitAsync(peer)!).Status, Is.EqualTo(AdmissionStatus.Admitted));
        Assert.That(peers.TryGet(peer, out var decided) && decided == Verdict(peer, AdmissionStatus.Admitted, "valid certificate"));
    }

    [Test]
    public void AReplacementNeedsTheDecisionItWasReadFrom()
    {
        var peers = new ConnectedPeers();
        var peer = NewPeer();
        peers.Add(peer);
        peers.Decide(Verdict(peer, AdmissionStatus.Admitted, "valid certificate"), out _);
        var (_, _, version) = peers.Decided().Single();
        // Someone else replaced it meanwhile: a re-judgement read before must not overwrite the newer verdict.
        Assert.That(peers.Replace(Verdict(peer, AdmissionStatus.Refused, "certificate-revoked"), version: null), Is.True);
        Assert.That(peers.Replace(Verdict(peer, AdmissionStatus.Admitted, "valid certificate"), version), Is.False);
        Assert.That(peers.GetStatus(peer), Is.EqualTo(AdmissionStatus.Refused));
        var (_, _, newer) = peers.Decided().Single();
        Assert.That(peers.Replace(Verdict(peer, AdmissionStatus.Admitted, "valid certificate"), newer), Is.True);
        Assert.That(peers.GetStatus(peer), Is.EqualTo(AdmissionStatus.Admitted));
        Assert.That(peers.Replace(Verdict(NewPeer(), AdmissionStatus.Admitted, "valid certificate"), version: null), Is.False, "a peer not held stays out");
        Assert.That(peers.Count, Is.EqualTo(1));
    }

    [Test]
    public void APeerThatLeavesTakesItsEntryWithIt()
    {
        var peers = new ConnectedPeers();
        var keys = new Dictionary<PeerId, byte[]>();
        for (var i = 0; i < 1_000; i++)
        {
            var peer = NewPeer();
            keys[peer] = [(byte)i, (byte)(i >> 8)];
            peers.Add(peer, keys[peer]);
            if (i % 2 == 0) peers.Decide(Verdict(peer, AdmissionStatus.Refused, "certificate-revoked"), out _);
        }
        Assert.That(peers.Count, Is.EqualTo(1_000));
        var decided = 0;
        foreach (var (peer, key) in keys)
        {
            Assert.That(peers.Remove(peer, out var verdict, out var publicKey), Is.True);
            Assert.That(publicKey.ToArray(), Is.EqualTo(key));
            if (verdict is not null) decided++;
            Assert.That(peers.WaitAsync(peer), Is.Null, "nothing to wait on once gone");
            Assert.That(peers.GetStatus(peer), Is.Null);
            Assert.That(peers.Decide(Verdict(peer, AdmissionStatus.Admitted, "valid certificate"), out _), Is.False, "a late decision does not bring it back");
        }
        Assert.That(decided, Is.EqualTo(500));
        Assert.That(peers.Count, Is.Zero);
    }

    [Test]
    public async Task ConcurrentDecisionsHaveOneWinnerThatEveryWaiterSees()
    {
        for (var round = 0; round < 50; round++)
        {
            var peers = new ConnectedPeers();
            var peer = NewPeer();
            peers.Add(peer);
            var waiters = Enumerable.Range(0, 8).Select(_ => Task.Run(() => peers.WaitAsync(peer)!)).ToArray();
            var deciders = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
                peers.Decide(Verdict(peer, AdmissionStatus.Admitted, "decider " + i), out _))).ToArray();
            var wins = (await Task.WhenAll(deciders)).Count(won => won);
            Assert.That(wins, Is.EqualTo(1));
            var seen = await Task.WhenAll(waiters);
            Assert.That(seen.Select(v => v.Reason).Distinct().Count(), Is.EqualTo(1));
            Assert.That(seen[0].Reason, Is.EqualTo(peers.Decided().Single().Verdict.Reason));
        }
    }

    [Test]
    public void TheGenerationMovesWhenAServableAnswerCouldBeTakenBack()
    {
        var peers = new ConnectedPeers();
        var peer = NewPeer();
        var other = NewPeer();
        Assert.That(peers.GetStatus(peer, out var start), Is.Null);
        Assert.That(start, Is.EqualTo(peers.Generation));

        // Joining and being admitted keep every earlier servable answer true: the generation stays.
        peers.Add(peer);
        peers.Add(other);
        Assert.That(peers.GetStatus(peer, out var generation), Is.EqualTo(AdmissionStatus.Pending));
        Assert.That(generation, Is.EqualTo(start));
        peers.Decide(Verdict(peer, AdmissionStatus.Admitted, "valid certificate"), out _);
        var (_, _, version) = peers.Decided().Single();
        Assert.That(peers.Replace(Verdict(peer, AdmissionStatus.Admitted, "valid certificate"), version), Is.True);
        Assert.That(peers.Generation, Is.EqualTo(start), "admissions move nothing");

        // Anything but an admission, or a peer leaving, moves it.
        peers.Decide(Verdict(other, AdmissionStatus.ClientOnly, "no certificate offered"), out _);
        var afterClient = peers.Generation;
        Assert.That(afterClient, Is.GreaterThan(start), "a pending peer decided a client");
        Assert.That(peers.Replace(Verdict(peer, AdmissionStatus.Refused, "certificate-revoked"), version: null), Is.True);
        var afterRefusal = peers.Generation;
        Assert.That(afterRefusal, Is.GreaterThan(afterClient), "an admitted peer refused");
        Assert.That(peers.GetStatus(peer, out generation), Is.EqualTo(AdmissionStatus.Refused));
        Assert.That(generation, Is.EqualTo(afterRefusal));
        Assert.That(peers.Remove(other, out _, out _), Is.True);
        Assert.That(peers.Generation, Is.EqualTo(afterRefusal), "a peer never asked about with a generation leaves quietly");
        Assert.That(peers.Remove(peer, out _, out _), Is.True);
        Assert.That(peers.Generation, Is.GreaterThan(afterRefusal), "one asked about falls back to what is remembered: it moves");
        var afterLeave = peers.Generation;
        peers.Add(peer);
        Assert.That(peers.Remove(peer, out _, out _), Is.True);
        Assert.That(peers.Remove(other, out _, out _), Is.False);
        Assert.That(peers.Generation, Is.EqualTo(afterLeave), "a new connection not asked about since, or a peer not held, moves nothing");
    }
}
