using KontinuumP2P.Core.Identity;
using KontinuumP2P.Node.Admission;

namespace KontinuumP2P.Node.Tests;

/// <summary>
/// The memory of verdicts on peers gone: bounded in count (least recently used forgotten first, a look-up counts as a
/// use) and in time (each entry lapses at its own deadline); taking an entry removes it; slots are reused.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class VerdictMemoryTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static PeerId NewPeer() => Ed25519Identity.Generate().PeerId;

    private static AdmissionVerdict Admitted(PeerId peer) => new(peer, AdmissionStatus.Admitted, null, "valid certificate");

    [Test]
    public void TheLeastRecentlyUsedGoesFirstAndALookUpIsAUse()
    {
        var memory = new VerdictMemory(3);
        var peers = Enumerable.Range(0, 5).Select(_ => NewPeer()).ToList();
        for (var i = 0; i < 3; i++) memory.Remember(Admitted(peers[i]), new byte[] { (byte)i }, Now.AddHours(1));
        Assert.That(memory.GetStatus(peers[0], Now), Is.EqualTo(AdmissionStatus.Admitted), "peer 0 is now the most recently used");
        memory.Remember(Admitted(peers[3]), new byte[] { 3 }, Now.AddHours(1));
        Assert.Multiple(() =>
        {
            Assert.That(memory.Count, Is.EqualTo(3));
            Assert.That(memory.GetStatus(peers[1], Now), Is.Null, "the least recently used was forgotten");
            Assert.That(memory.Snapshot(Now).Select(e => e.Verdict.Peer), Is.EqualTo(new[] { peers[3], peers[0], peers[2] }), "newest first");
        });
        // Remembering a peer again replaces its entry (no second one) and makes it the newest.
        memory.Remember(new AdmissionVerdict(peers[2], AdmissionStatus.Refused, null, "certificate-revoked"), new byte[] { 9 }, Now.AddHours(2));
        memory.Remember(Admitted(peers[4]), new byte[] { 4 }, Now.AddHours(1));
        Assert.Multiple(() =>
        {
            Assert.That(memory.Count, Is.EqualTo(3));
            Assert.That(memory.GetStatus(peers[0], Now), Is.Null, "peer 0 was the oldest now");
            var entry = memory.Get(peers[2], Now)!;
            Assert.That(entry.Verdict, Is.EqualTo(new AdmissionVerdict(peers[2], AdmissionStatus.Refused, null, "certificate-revoked")));
            Assert.That(entry.PublicKey.ToArray(), Is.EqualTo(new byte[] { 9 }));
            Assert.That(entry.Until, Is.EqualTo(Now.AddHours(2)));
        });
    }

    [Test]
    public void EntriesLapseAtTheirDeadlineAndATakeRemoves()
    {
        var memory = new VerdictMemory(100);
        var (early, late, taken) = (NewPeer(), NewPeer(), NewPeer());
        memory.Remember(Admitted(early), new byte[] { 1 }, Now.AddMinutes(10));
        memory.Remember(Admitted(late), new byte[] { 2 }, Now.AddMinutes(30));
        memory.Remember(Admitted(taken), new byte[] { 3 }, Now.AddMinutes(30));
        Assert.Multiple(() =>
        {
            Assert.That(memory.Take(taken, Now)!.Verdict.Peer, Is.EqualTo(taken));
            Assert.That(memory.Get(taken, Now), Is.Null, "taken away");
            Assert.That(memory.GetStatus(early, Now.AddMinutes(10)), Is.Null, "lapsed at its deadline");
            Assert.That(memory.Count, Is.EqualTo(1), "and dropped on the way");
            Assert.That(memory.Snapshot(Now.AddMinutes(31)), Is.Empty);
            Assert.That(memory.Count, Is.Zero);
        });
    }

    [Test]
    public void SlotsAreReusedSoTheCountStaysAtTheBoundOverManyPeers()
    {
        var memory = new VerdictMemory(64);
        var kept = new List<PeerId>();
        for (var i = 0; i < 998; i++) // the last one (997) is kept
        {
            var peer = NewPeer();
            memory.Remember(Admitted(peer), new byte[] { (byte)i }, Now.AddHours(1));
            if (i % 3 == 0) memory.Forget(peer);
            else kept.Add(peer);
        }
        Assert.Multiple(() =>
        {
            Assert.That(memory.Count, Is.EqualTo(64));
            // The 64 most recent of the peers not forgotten, newest first.
            Assert.That(memory.Snapshot(Now).Select(e => e.Verdict.Peer), Is.EqualTo(kept.TakeLast(64).Reverse()));
        });
    }
}
