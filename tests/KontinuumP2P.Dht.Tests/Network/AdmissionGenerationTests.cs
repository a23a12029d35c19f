using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Network;

/// <summary>
/// The server's answer keeps admission's servable answer beside each routing entry while the admission's generation
/// stays the same (no dictionary look-up per handed-out entry), asks again once it changes, and never hands out an
/// entry refused since; an answer given without a generation is asked for every time.
/// </summary>
public sealed class AdmissionGenerationTests
{
    [Test, CancelAfter(60_000)]
    public async Task The_answer_reuses_servable_answers_until_the_generation_changes(CancellationToken cancellationToken)
    {
        await using var dht = new SimulatedDht(seed: 21);
        await dht.AddNodesAsync(30);
        var admission = new CountingAdmission();
        var server = await dht.AddNodeAsync(SimulatedDht.DefaultOptions() with { Admission = admission });
        await server.RefreshAsync(cancellationToken);
        var client = dht.Swarm.Join(TestPeers.Create(new Random(77)), DhtOptions.KontinuumProtocolId);
        var request = KadMessage.Request(KadMessageType.FindNode, TestPeers.Create(new Random(78)).ToByteArray());

        async Task<List<PeerId>> AskAsync() =>
            (await client.SendAsync(server.LocalPeer, request, cancellationToken))!.CloserPeers.Select(p => p.PeerId).ToList();

        // The server's join and the answers it gave meanwhile kept answers already: start from a new generation.
        admission.ForgetCounts();
        admission.Bump();
        var first = await AskAsync();
        var askedAfterFirst = admission.AskedAbout(first);
        var second = await AskAsync();
        var askedAfterSecond = admission.AskedAbout(first);

        // One entry is refused and the generation moves: it is asked again and no longer handed out.
        var refused = first[0];
        admission.Refuse(refused, bumpGeneration: true);
        var third = await AskAsync();
        var askedAfterThird = admission.AskedAbout(first);

        // Answers given without a generation (-1) are asked for every time.
        admission.Uncacheable = true;
        admission.Bump();
        var askedBeforeFourth = admission.AskedAbout(third);
        var fourth = await AskAsync();
        var askedAfterFourth = admission.AskedAbout(third);
        var fifth = await AskAsync();
        var askedAfterFifth = admission.AskedAbout(third);

        Assert.Multiple(() =>
        {
            Assert.That(first, Has.Count.EqualTo(20), "a full answer (k = 20) from a table of 30 peers");
            Assert.That(askedAfterFirst, Is.EqualTo(first.Count), "each handed-out entry asked once the first time");
            Assert.That(second, Is.EqualTo(first), "the same answer, in the same order");
            Assert.That(askedAfterSecond, Is.EqualTo(askedAfterFirst), "nothing asked again while the generation stayed");
            Assert.That(third, Does.Not.Contain(refused), "an entry refused since is never handed out");
            Assert.That(third, Is.EqualTo(first.Skip(1).Concat(third.Skip(first.Count - 1)).ToList()), "the others keep their order");
            Assert.That(askedAfterThird, Is.GreaterThanOrEqualTo(askedAfterSecond + first.Count), "every entry asked again after the change");
            Assert.That(fourth, Is.EqualTo(third));
            Assert.That(fifth, Is.EqualTo(third));
            // (The refused entry is still in the table until the next maintenance tick: each walk passes over it and is
            // repeated once for one more entry, so an answer asks about 20 + 21 entries here.)
            Assert.That(askedAfterFourth - askedBeforeFourth, Is.GreaterThanOrEqualTo(third.Count), "without a generation, asked for each answer");
            Assert.That(askedAfterFifth - askedAfterFourth, Is.EqualTo(askedAfterFourth - askedBeforeFourth), "and again for the next");
        });
    }

    private sealed class CountingAdmission : IPeerAdmission, IAdmissionGeneration
    {
        private readonly HashSet<PeerId> _refused = [];
        private readonly Dictionary<PeerId, int> _asked = [];
        private long _generation;

        public bool Uncacheable { get; set; }

        public long Generation => _generation;

        public int AskedAbout(IEnumerable<PeerId> peers)
        {
            lock (_asked) return peers.Sum(p => _asked.GetValueOrDefault(p));
        }

        public void Bump() => Interlocked.Increment(ref _generation);

        public void ForgetCounts()
        {
            lock (_asked) _asked.Clear();
        }

        public void Refuse(PeerId peer, bool bumpGeneration)
        {
            lock (_asked) _refused.Add(peer);
            if (bumpGeneration) Interlocked.Increment(ref _generation);
        }

        public PeerAdmissionState GetState(PeerId peer) => GetState(peer, out _);

        public PeerAdmissionState GetState(PeerId peer, out long generation)
        {
            lock (_asked)
            {
                _asked[peer] = _asked.GetValueOrDefault(peer) + 1;
                generation = Uncacheable ? -1 : _generation;
                return _refused.Contains(peer) ? PeerAdmissionState.Refused : PeerAdmissionState.Admitted;
            }
        }

        public ValueTask<PeerAdmissionState> WaitForDecisionAsync(PeerId peer, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetState(peer, out _));
    }
}
