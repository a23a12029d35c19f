using System.Collections.Concurrent;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht.Tests.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Dht.Tests.Network;

/// <summary>
/// The DHT's lookup driver in virtual time against a scripted network: it wakes at the lookup's own deadlines (not
/// only on completions), and the admission wait after an answer does not count toward the request timeout.
/// </summary>
[CancelAfter(30_000)]
public sealed class LookupDriverTests
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    [Test]
    public async Task A_request_that_never_completes_is_replaced_at_its_deadline(CancellationToken ct)
    {
        var peers = TestPeers.Create(2, seed: 21);
        var (silent, replacement) = (peers[0], peers[1]);
        await using var setup = await ObserverAsync(peers, new Admission(), parallelism: 1, ct);
        var network = setup.Network;
        var release = new TaskCompletionSource<KadMessage?>(TaskCreationOptions.RunContinuationsAsynchronously);
        network.Respond = (peer, _) => peer == silent ? new ValueTask<KadMessage?>(release.Task) : Answer();
        var askedSilent = network.WaitForRequest(silent);
        var askedReplacement = network.WaitForRequest(replacement);

        // The target is the silent peer's own key, so with α = 1 it is asked first.
        var lookup = setup.Node.GetClosestPeersAsync(silent.ToByteArray(), ct);
        await askedSilent.WaitAsync(ct);
        Assert.That(askedReplacement.IsCompleted, Is.False);
        setup.Time.Advance(RequestTimeout);
        // Nothing completed (the silent peer ignores cancellation): only the lookup's own deadline can wake it.
        await askedReplacement.WaitAsync(TimeSpan.FromSeconds(10), ct);
        release.SetResult(null);
        var result = await lookup;
        Assert.That(result.Peers.Select(p => p.PeerId), Is.EqualTo(new[] { replacement }));
        Assert.That(result.Statistics.Failures, Is.EqualTo(1));
    }

    [Test]
    public async Task A_late_but_valid_answer_after_an_admission_wait_is_used(CancellationToken ct)
    {
        var peers = TestPeers.Create(3, seed: 22);
        var (pending, slow, named) = (peers[0], peers[1], peers[2]);
        var admission = new Admission();
        await using var setup = await ObserverAsync([pending, slow], admission, parallelism: 2, ct);
        var network = setup.Network;
        var slowCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        network.Respond = (peer, token) =>
        {
            if (peer == pending) return Answer(named);
            if (peer == slow) return HangUntilCancelledAsync(slowCancelled, token);
            return Answer();
        };
        var verdict = admission.MakePending(pending);
        var askedNamed = network.WaitForRequest(named);

        var lookup = setup.Node.GetClosestPeersAsync(new byte[] { 1, 2, 3 }, ct);
        await admission.Waiting(pending).WaitAsync(ct);
        // Past the request timeout: the slow peer's request fails, and the lookup polls with the pending peer's
        // request deadline long gone.
        setup.Time.Advance(RequestTimeout + TimeSpan.FromSeconds(5));
        await slowCancelled.Task.WaitAsync(ct);
        Assert.That(askedNamed.IsCompleted, Is.False);
        verdict.SetResult(PeerAdmissionState.Admitted);
        await askedNamed.WaitAsync(TimeSpan.FromSeconds(10), ct);
        var result = await lookup;
        Assert.That(result.Peers.Select(p => p.PeerId), Is.EquivalentTo(new[] { pending, named }));
        Assert.That(result.Statistics.Hops, Is.GreaterThanOrEqualTo(1));
    }

    private static ValueTask<KadMessage?> Answer(params PeerId[] closer) =>
        ValueTask.FromResult<KadMessage?>(new KadMessage(KadMessageType.FindNode, ReadOnlyMemory<byte>.Empty, null,
            [.. closer.Select(p => new KadPeer(p, [Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001")]))], []));

    private static async ValueTask<KadMessage?> HangUntilCancelledAsync(TaskCompletionSource cancelled, CancellationToken token)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, token);
        }
        catch (OperationCanceledException)
        {
            cancelled.TrySetResult();
            throw;
        }
        return null;
    }

    /// <summary>A started client-mode node whose table holds <paramref name="known"/> (they answered bootstrap).</summary>
    private static async Task<Setup> ObserverAsync(IReadOnlyList<PeerId> known, Admission admission, int parallelism, CancellationToken ct)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
        var network = new ScriptedNetwork(TestPeers.Create(new Random(77)), time) { Respond = (_, _) => Answer() };
        var options = new DhtOptions
        {
            Mode = DhtMode.Client,
            Admission = admission,
            Lookup = new LookupOptions { Parallelism = parallelism, RequestTimeout = RequestTimeout },
            BootstrapPeers = [.. known.Select(p => Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001").WithPeerId(p))],
        };
        var node = new DhtNode(network, options);
        await node.StartAsync(ct);
        Assert.That(node.GetRoutingTable().Select(e => e.PeerId), Is.EquivalentTo(known));
        return new Setup(node, network, time);
    }

    private sealed record Setup(DhtNode Node, ScriptedNetwork Network, FakeTimeProvider Time) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Node.DisposeAsync();
    }

    /// <summary>Admits everyone, except peers made pending, whose verdict the test gives.</summary>
    private sealed class Admission : IPeerAdmission
    {
        private readonly ConcurrentDictionary<PeerId, TaskCompletionSource<PeerAdmissionState>> _verdicts = new();
        private readonly ConcurrentDictionary<PeerId, TaskCompletionSource> _waiting = new();

        public TaskCompletionSource<PeerAdmissionState> MakePending(PeerId peer) =>
            _verdicts.GetOrAdd(peer, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));

        public Task Waiting(PeerId peer) => _waiting.GetOrAdd(peer, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

        public PeerAdmissionState GetState(PeerId peer) =>
            _verdicts.TryGetValue(peer, out var verdict) && !verdict.Task.IsCompleted ? PeerAdmissionState.Pending
            : verdict?.Task.Result ?? PeerAdmissionState.Admitted;

        public ValueTask<PeerAdmissionState> WaitForDecisionAsync(PeerId peer, CancellationToken cancellationToken)
        {
            if (!_verdicts.TryGetValue(peer, out var verdict)) return ValueTask.FromResult(PeerAdmissionState.Admitted);
            _waiting.GetOrAdd(peer, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            return new ValueTask<PeerAdmissionState>(verdict.Task.WaitAsync(cancellationToken));
        }
    }

    /// <summary>An <see cref="IKadNetwork"/> whose answers the test scripts, noting who was asked.</summary>
    private sealed class ScriptedNetwork(PeerId local, TimeProvider time) : IKadNetwork
    {
        private readonly ConcurrentDictionary<PeerId, IReadOnlyList<Multiaddr>> _addresses = new();
        private readonly ConcurrentDictionary<PeerId, TaskCompletionSource> _asked = new();

        public Func<PeerId, CancellationToken, ValueTask<KadMessage?>> Respond { get; set; } = (_, _) => default;

        public PeerId LocalPeer { get; } = local;

        public string ProtocolId => DhtOptions.KontinuumProtocolId;

        public TimeProvider TimeProvider { get; } = time;

        public IReadOnlyList<Multiaddr> LocalAddresses { get; } = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/4000")];

        public event EventHandler<PeerId>? ServerPeerDiscovered;

        /// <summary>Completes at the first request to <paramref name="peer"/> made after this call.</summary>
        public Task WaitForRequest(PeerId peer)
        {
            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _asked[peer] = waiter;
            return waiter.Task;
        }

        public IReadOnlyList<Multiaddr> GetAddresses(PeerId peer) => _addresses.TryGetValue(peer, out var list) ? list : [];

        public void AddAddresses(PeerId peer, IReadOnlyList<Multiaddr> addresses)
        {
            if (addresses.Count > 0) _addresses[peer] = addresses;
        }

        public ValueTask<KadMessage?> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken)
        {
            if (_asked.TryGetValue(peer, out var waiter)) waiter.TrySetResult();
            return Respond(peer, cancellationToken);
        }

        public void StartServing(KadRequestHandler handler) => throw new InvalidOperationException("client mode");

        public void StopServing()
        {
        }

        public void Raise(PeerId peer) => ServerPeerDiscovered?.Invoke(this, peer);
    }
}
