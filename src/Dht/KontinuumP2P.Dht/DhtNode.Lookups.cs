using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Rpc;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Dht;

public sealed partial class DhtNode
{
    /// <summary>
    /// Finds <paramref name="peer"/>'s addresses with a lookup that stops as soon as a peer names it with addresses,
    /// and otherwise only once the k closest have answered. Null when no one knew it.
    /// </summary>
    public Task<FindPeerResult?> FindPeerAsync(PeerId peer, CancellationToken cancellationToken) =>
        FindPeerAsync(peer, confirmReachable: false, cancellationToken);

    /// <summary>
    /// Finds <paramref name="peer"/>'s addresses like <see cref="FindPeerAsync(PeerId, CancellationToken)"/>; with
    /// <paramref name="confirmReachable"/> a peer named by others is then dialled (within the request timeout), and
    /// <see cref="FindPeerResult.Reachable"/> says whether that worked. A peer that answered the lookup itself needs
    /// no dial. Null when no one knew it.
    /// </summary>
    /// <remarks>Without confirmation a departed or partitioned peer is still "found" while others remember it.</remarks>
    public async Task<FindPeerResult?> FindPeerAsync(PeerId peer, bool confirmReachable, CancellationToken cancellationToken)
    {
        _metrics.QueryStarted("find-peer");
        IReadOnlyList<Multiaddr>? addresses = null;
        var answeredItself = false;
        var outcome = await RunLookupAsync("find-peer", peer.ToByteArray(), KadMessageType.FindNode, KClosestLookup, (from, response) =>
        {
            answeredItself = from == peer;
            if (answeredItself) addresses = _network.GetAddresses(peer);
            else addresses = response.CloserPeers.FirstOrDefault(p => p.PeerId == peer && p.Addresses.Count > 0)?.Addresses;
            return addresses is not null;
        }, cancellationToken).ConfigureAwait(false);
        if (addresses is null) return null;
        var result = new FindPeerResult(peer, addresses, outcome.Statistics);
        if (!confirmReachable) return result;
        var reachable = answeredItself || await ConfirmReachableAsync(peer, addresses, cancellationToken).ConfigureAwait(false);
        return result with { Reachable = reachable };
    }

    /// <summary>Dials <paramref name="peer"/> at <paramref name="addresses"/>, bounded by the request timeout.</summary>
    private async Task<bool> ConfirmReachableAsync(PeerId peer, IReadOnlyList<Multiaddr> addresses, CancellationToken cancellationToken)
    {
        _network.AddAddresses(peer, addresses);
        using var timeout = new CancellationTokenSource(_options.Lookup.RequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await _network.ConfirmReachableAsync(peer, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>The k closest servers to <paramref name="key"/> that answered a FIND_NODE walk.</summary>
    public async Task<ClosestPeersResult> GetClosestPeersAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken)
    {
        _metrics.QueryStarted("closest-peers");
        var outcome = await RunLookupAsync("closest-peers", key, KadMessageType.FindNode, KClosestLookup, (_, _) => false, cancellationToken)
            .ConfigureAwait(false);
        return new ClosestPeersResult([.. outcome.Peers.Select(p => new KadPeer(p, _network.GetAddresses(p)))], outcome.Statistics);
    }

    /// <summary>Self lookup plus one random lookup per non-empty bucket (the table refresh of Kademlia).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        _metrics.QueryStarted("refresh");
        // The self lookup walks until our k closest all answered: they are the neighbours a joining node must know.
        await RunLookupAsync("self", LocalPeer.ToByteArray(), KadMessageType.FindNode, KClosestLookup, (_, _) => false, cancellationToken)
            .ConfigureAwait(false);
        IReadOnlyList<int> buckets;
        lock (_tableLock) buckets = _table.NonEmptyBuckets();
        var recent = _time.GetUtcNow() - _options.RefreshInterval;
        foreach (var bucket in buckets)
        {
            if (bucket > MaxRefreshedBucket) break;
            // Kademlia's rule: a bucket that one of our own lookups went through lately needs no refresh lookup; nor
            // does a full bucket whose every entry was heard from within the interval (nothing to fill, none dead).
            lock (_tableLock)
            {
                if (_bucketLookedUpAt[bucket] > recent) continue;
                if (_table.IsFullAndFresh(bucket, recent)) continue;
            }
            byte[] key;
            lock (_random) key = RandomKeyInBucket(bucket, _random);
            await RunLookupAsync("refresh", key, KadMessageType.FindNode, _options.Lookup, (_, _) => false, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>When one of our own lookups (not a refresh) last had answers, per refreshed bucket; under the table lock.</summary>
    private readonly DateTimeOffset[] _bucketLookedUpAt = new DateTimeOffset[MaxRefreshedBucket + 1];

    /// <summary>
    /// Deeper buckets than this are covered by the self lookup (a key for them needs more than the 16 bits of
    /// <see cref="PrefixKeys"/>; buckets this deep fill only in networks of tens of thousands of nodes).
    /// </summary>
    private const int MaxRefreshedBucket = PrefixKeys.PrefixBits - 1;

    /// <summary>A random key whose kad id (its SHA-256) falls in bucket <paramref name="bucket"/> of our table.</summary>
    private byte[] RandomKeyInBucket(int bucket, Random random) => PrefixKeys.KeyInBucket(_table.LocalId, bucket, random);

    /// <summary>Lookups that must end with the k closest (stores, provides, closest-peers) walk until all k answered.</summary>
    private LookupOptions KClosestLookup => _options.Lookup with { Termination = LookupTermination.StrictKClosest };

    private Task<LookupOutcome> RunLookupAsync(string kind, ReadOnlyMemory<byte> key, KadMessageType type, LookupOptions options,
        Func<PeerId, KadMessage, bool> onResponse, CancellationToken cancellationToken) =>
        RunLookupAsync(kind, KadId.FromKey(key.Span), type, options, onResponse, cancellationToken, key);

    /// <summary>
    /// Drives a sans-I/O lookup against the network: sends what it asks, feeds answers and failures back, admits
    /// every peer that answered into the routing table, and stops at the lookup's own deadlines or when
    /// <paramref name="onResponse"/> returns true. It wakes on an event channel fed by the requests and by one timer
    /// set to <see cref="IPeerLookup.NextDeadline"/>, so a request that never completes is replaced at its deadline,
    /// and an answer waiting for the responder's admission is no longer subject to the request timeout.
    /// </summary>
    private async Task<LookupOutcome> RunLookupAsync(string kind, KadId target, KadMessageType type, LookupOptions options,
        Func<PeerId, KadMessage, bool> onResponse, CancellationToken cancellationToken, ReadOnlyMemory<byte> wireKey, KadMessage? request = null)
    {
        request ??= KadMessage.Request(type, wireKey);
        IReadOnlyList<RoutingTableEntry> seeds;
        lock (_tableLock) seeds = _table.Closest(target, options.ResultCount);
        var lookup = DisjointPathsLookup.Create(target, seeds.Select(s => s.PeerId), options, _time.GetUtcNow());
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var events = Channel.CreateUnbounded<LookupEvent>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
        using var timer = _time.CreateTimer(static state => ((ChannelWriter<LookupEvent>)state!).TryWrite(default),
            events.Writer, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        var requests = new List<Task>();
        var closer = new List<PeerId>();
        try
        {
            while (true)
            {
                var now = _time.GetUtcNow();
                var action = lookup.Poll(now);
                while (action.Kind == LookupActionKind.Request)
                {
                    requests.Add(RequestForLookupAsync(action.Peer!, request, events.Writer, linked.Token));
                    action = lookup.Poll(now);
                }
                if (action.Kind == LookupActionKind.Finished) break;
                if (lookup.NextDeadline is not { } next) break;
                timer.Change(next > now ? next - now : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
                LookupEvent item;
                try
                {
                    item = await events.Reader.ReadAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                now = _time.GetUtcNow();
                switch (item.Kind)
                {
                    case LookupEventKind.Tick:
                        continue;
                    case LookupEventKind.AwaitingAdmission:
                        lookup.OnResponseReceived(item.Peer!, now);
                        continue;
                }
                if (item.Response is not { } response)
                {
                    lookup.OnFailure(item.Peer!, now);
                    OnRequestFailed(item.Peer!);
                    continue;
                }
                _network.AddAddresses(response.CloserPeers);
                OnAnswered(item.Peer!);
                closer.Clear();
                foreach (var peer in response.CloserPeers) if (peer.PeerId != LocalPeer) closer.Add(peer.PeerId);
                lookup.OnSuccess(item.Peer!, closer, now);
                if (onResponse(item.Peer!, response)) lookup.Finish(now);
            }
        }
        finally
        {
            lookup.Finish(_time.GetUtcNow());
            // Stragglers of a finished lookup are not needed: cancel and wait for them so nothing outlives us.
            await linked.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(requests).ConfigureAwait(false);
        }
        cancellationToken.ThrowIfCancellationRequested();
        var statistics = lookup.Statistics;
        if (kind is not ("self" or "refresh") && statistics.Requests > statistics.Failures)
        {
            var bucket = _table.BucketIndex(target);
            lock (_tableLock)
            {
                if (bucket < _bucketLookedUpAt.Length) _bucketLookedUpAt[bucket] = _time.GetUtcNow();
            }
        }
        _logger.LookupFinished(kind, statistics.Hops, statistics.Requests, statistics.Failures, statistics.Duration.TotalMilliseconds);
        return new LookupOutcome(lookup.Results(), statistics);
    }

    /// <summary>
    /// One lookup request. Its answer counts only when the responder is admitted as a server: an answer from a peer
    /// without a valid certificate (a Sybil) is a failure, so its closer peers never steer the lookup. While the
    /// verdict is pending the lookup is told, so the wait does not count toward the request timeout. Always posts
    /// exactly one <see cref="LookupEventKind.Done"/>, never throws.
    /// </summary>
    private async Task RequestForLookupAsync(PeerId peer, KadMessage request, ChannelWriter<LookupEvent> events,
        CancellationToken cancellationToken)
    {
        KadMessage? answer = null;
        try
        {
            var response = await SendAsync(peer, request, cancellationToken).ConfigureAwait(false);
            if (response is null) return;
            var state = _options.Admission.GetState(peer);
            if (state == PeerAdmissionState.Pending)
            {
                events.TryWrite(new LookupEvent(LookupEventKind.AwaitingAdmission, peer, null));
                state = await _options.Admission.WaitForDecisionAsync(peer, cancellationToken).ConfigureAwait(false);
            }
            if (state == PeerAdmissionState.Admitted) answer = response;
            else _metrics.AnswerIgnored("not-admitted");
        }
        catch (OperationCanceledException)
        {
            // The lookup ended or we are stopping: no answer.
        }
        finally
        {
            events.TryWrite(new LookupEvent(LookupEventKind.Done, peer, answer));
        }
    }

    private enum LookupEventKind : byte { Tick, AwaitingAdmission, Done }

    /// <summary>What wakes a lookup driver: its timer (the default value), or news of one request.</summary>
    private readonly record struct LookupEvent(LookupEventKind Kind, PeerId? Peer, KadMessage? Response);

    /// <summary>
    /// One request with the per-request timeout; null on any failure (never throws except on shutdown). Sent for
    /// every RPC, so its machinery is kept small: one source for the timeout that the caller's token also cancels
    /// (a registration instead of a second, linked source), and a pooled state machine.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<KadMessage?> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        using var timeout = new CancellationTokenSource(_options.Lookup.RequestTimeout, _time);
        using var link = cancellationToken.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), timeout);
        try
        {
            var response = await _network.SendAsync(peer, request, timeout.Token).ConfigureAwait(false);
            if (request.Type != KadMessageType.AddProvider && response is null) throw new IOException("no answer");
            _metrics.RpcCompleted(request.Type, true, _time.GetElapsedTime(started));
            return response ?? request;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidDataException or TimeoutException)
        {
            _metrics.RpcCompleted(request.Type, false, _time.GetElapsedTime(started));
            return null;
        }
    }

    private sealed record LookupOutcome(IReadOnlyList<PeerId> Peers, LookupStatistics Statistics);
}
