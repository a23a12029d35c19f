using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Rpc;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Dht;

public sealed partial class DhtNode
{
    /// <summary>
    /// Finds <paramref name="peer"/>'s addresses with a lookup that stops as soon as a peer names it with addresses,
    /// and otherwise only once the k closest have answered. Null when no one knew it.
    /// </summary>
    public async Task<FindPeerResult?> FindPeerAsync(PeerId peer, CancellationToken cancellationToken)
    {
        _metrics.QueryStarted("find-peer");
        IReadOnlyList<Multiaddr>? addresses = null;
        var outcome = await RunLookupAsync("find-peer", peer.ToByteArray(), KadMessageType.FindNode, KClosestLookup, (from, response) =>
        {
            if (from == peer) addresses = _network.GetAddresses(peer);
            else addresses = response.CloserPeers.FirstOrDefault(p => p.PeerId == peer && p.Addresses.Count > 0)?.Addresses;
            return addresses is not null;
        }, cancellationToken).ConfigureAwait(false);
        return addresses is null ? null : new FindPeerResult(peer, addresses, outcome.Statistics);
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
        foreach (var bucket in buckets.Where(b => b <= MaxRefreshedBucket))
        {
            byte[] key;
            lock (_random) key = RandomKeyInBucket(bucket, _random);
            await RunLookupAsync("refresh", key, KadMessageType.FindNode, _options.Lookup, (_, _) => false, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>Deeper buckets than this are covered by the self lookup (finding a key for them costs 2^(i+1) hashes).</summary>
    private const int MaxRefreshedBucket = 16;

    /// <summary>A random key whose kad id (its SHA-256) falls in bucket <paramref name="bucket"/> of our table.</summary>
    private byte[] RandomKeyInBucket(int bucket, Random random)
    {
        var key = new byte[32];
        while (true)
        {
            random.NextBytes(key);
            if (_table.BucketIndex(KadId.FromKey(key)) == bucket) return key;
        }
    }

    /// <summary>Lookups that must end with the k closest (stores, provides, closest-peers) walk until all k answered.</summary>
    private LookupOptions KClosestLookup => _options.Lookup with { Termination = LookupTermination.StrictKClosest };

    private Task<LookupOutcome> RunLookupAsync(string kind, ReadOnlyMemory<byte> key, KadMessageType type, LookupOptions options,
        Func<PeerId, KadMessage, bool> onResponse, CancellationToken cancellationToken) =>
        RunLookupAsync(kind, KadId.FromKey(key.Span), type, options, onResponse, cancellationToken, key);

    /// <summary>
    /// Drives a sans-I/O lookup against the network: sends what it asks, feeds answers and failures back, admits
    /// every peer that answered into the routing table, and stops at the query deadline or when
    /// <paramref name="onResponse"/> returns true.
    /// </summary>
    private async Task<LookupOutcome> RunLookupAsync(string kind, KadId target, KadMessageType type, LookupOptions options,
        Func<PeerId, KadMessage, bool> onResponse, CancellationToken cancellationToken, ReadOnlyMemory<byte> wireKey, KadMessage? request = null)
    {
        request ??= KadMessage.Request(type, wireKey);
        IReadOnlyList<RoutingTableEntry> seeds;
        lock (_tableLock) seeds = _table.Closest(target, options.ResultCount);
        var lookup = DisjointPathsLookup.Create(target, seeds.Select(s => s.PeerId), options, _time.GetUtcNow());
        using var deadline = new CancellationTokenSource(options.QueryTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token, _stopping.Token);
        var inFlight = new Dictionary<Task<KadMessage?>, PeerId>();
        try
        {
            while (true)
            {
                var action = lookup.Poll(_time.GetUtcNow());
                while (action.Kind == LookupActionKind.Request)
                {
                    inFlight.Add(SendToServerAsync(action.Peer!, request, linked.Token), action.Peer!);
                    action = lookup.Poll(_time.GetUtcNow());
                }
                if (action.Kind == LookupActionKind.Finished || inFlight.Count == 0) break;
                var completed = await Task.WhenAny(inFlight.Keys).ConfigureAwait(false);
                var peer = inFlight[completed];
                inFlight.Remove(completed);
                var response = await completed.ConfigureAwait(false);
                var now = _time.GetUtcNow();
                if (linked.IsCancellationRequested)
                {
                    lookup.Finish(now);
                    break;
                }
                if (response is null)
                {
                    lookup.OnFailure(peer, now);
                    OnRequestFailed(peer);
                    continue;
                }
                LearnAddresses(response.CloserPeers);
                OnAnswered(peer);
                lookup.OnSuccess(peer, response.CloserPeers.Select(p => p.PeerId).Where(p => p != LocalPeer), now);
                if (onResponse(peer, response)) lookup.Finish(now);
            }
        }
        finally
        {
            lookup.Finish(_time.GetUtcNow());
            if (inFlight.Count > 0)
            {
                // Stragglers of a finished lookup are not needed: cancel and wait for them so nothing outlives us.
                await linked.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(inFlight.Keys).ConfigureAwait(false);
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        var statistics = lookup.Statistics;
        _logger.LookupFinished(kind, statistics.Hops, statistics.Requests, statistics.Failures, statistics.Duration.TotalMilliseconds);
        return new LookupOutcome(lookup.Results(), statistics);
    }

    /// <summary>
    /// A lookup request whose answer counts only when the responder is admitted as a server: an answer from a peer
    /// without a valid certificate (a Sybil) is treated as a failure, so its closer peers never steer the lookup.
    /// </summary>
    private async Task<KadMessage?> SendToServerAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken)
    {
        var response = await SendAsync(peer, request, cancellationToken).ConfigureAwait(false);
        if (response is null) return null;
        var state = _options.Admission.GetState(peer);
        if (state == PeerAdmissionState.Pending)
        {
            try
            {
                state = await _options.Admission.WaitForDecisionAsync(peer, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
        if (state == PeerAdmissionState.Admitted) return response;
        _metrics.AnswerIgnored("not-admitted");
        return null;
    }

    /// <summary>One request with the per-request timeout; null on any failure (never throws except on shutdown).</summary>
    private async Task<KadMessage?> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        using var timeout = new CancellationTokenSource(_options.Lookup.RequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            var response = await _network.SendAsync(peer, request, linked.Token).ConfigureAwait(false);
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

    private void LearnAddresses(IReadOnlyList<KadPeer> peers)
    {
        foreach (var peer in peers)
        {
            if (peer.PeerId != LocalPeer) _network.AddAddresses(peer.PeerId, peer.Addresses);
        }
    }

    private sealed record LookupOutcome(IReadOnlyList<PeerId> Peers, LookupStatistics Statistics);
}
