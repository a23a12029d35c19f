using System.Runtime.CompilerServices;
using System.Threading.Channels;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht.Storage;

namespace KontinuumP2P.Dht;

public sealed partial class DhtNode
{
    private const int MaxParallelStores = 10;

    /// <summary>
    /// Stores a record on the k closest servers to its key (and locally, as ours, to republish). Returns how many
    /// servers acknowledged it.
    /// </summary>
    /// <exception cref="InvalidRecordException">The record fails its namespace validator.</exception>
    public async Task<int> PutValueAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        var validation = _options.Validators.Validate(key, value);
        if (!validation.IsValid) throw new InvalidRecordException($"record rejected by its validator: {validation.Reason}");
        var now = _time.GetUtcNow();
        var record = new DhtRecord(key.ToArray(), value.ToArray(), now);
        await _store.PutRecordAsync(new StoredRecord(record, now + _options.RecordTtl, IsOwn: true), cancellationToken).ConfigureAwait(false);
        _metrics.QueryStarted("put-value");
        var closest = await RunLookupAsync("put-value", key, KadMessageType.FindNode, KClosestLookup, (_, _) => false, cancellationToken)
            .ConfigureAwait(false);
        return await PutToAsync(closest.Peers, record, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Looks <paramref name="key"/> up and streams the best valid value seen so far each time it changes or gains a
    /// holder. The network is always asked (a local copy only joins the candidates); the walk stops after
    /// <paramref name="quorum"/> valid answers (default <see cref="DhtOptions.GetQuorum"/>); at the end, peers that
    /// answered with a worse value or none get the best record back. Yields nothing when no valid value exists.
    /// </summary>
    public IAsyncEnumerable<DhtValue> GetValueAsync(ReadOnlyMemory<byte> key, int? quorum = null, CancellationToken cancellationToken = default) =>
        GetValueAsync(key, quorum, disjointPaths: null, cancellationToken);

    /// <summary>
    /// As <see cref="GetValueAsync(ReadOnlyMemory{byte}, int?, CancellationToken)"/>, over <paramref name="disjointPaths"/>
    /// disjoint paths (S/Kademlia) when given instead of the node's <see cref="LookupOptions.DisjointPaths"/>: for records
    /// whose loss or poisoning costs most, such as CRLs.
    /// </summary>
    public async IAsyncEnumerable<DhtValue> GetValueAsync(ReadOnlyMemory<byte> key, int? quorum, int? disjointPaths,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (RecordValidators.NamespaceOf(key.Span) is null) throw new ArgumentException("a record key looks like /namespace/rest", nameof(key));
        var lookup = disjointPaths is { } d ? KClosestLookup with { DisjointPaths = d } : KClosestLookup;
        lookup.Validate();
        _metrics.QueryStarted("get-value");
        // Only the newest best value matters to a consumer that falls behind.
        var updates = Channel.CreateBounded<DhtValue>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
        var keyCopy = key.ToArray();
        var effectiveQuorum = quorum ?? _options.GetQuorum;
        await foreach (var value in StreamFromAsync(updates, (writer, token) => SearchValueAsync(keyCopy, effectiveQuorum, lookup, writer, token),
                           cancellationToken).ConfigureAwait(false))
            yield return value;
    }

    /// <summary>Yields what <paramref name="produce"/> writes to <paramref name="channel"/>; stops the producer when the consumer stops early.</summary>
    private static async IAsyncEnumerable<T> StreamFromAsync<T>(Channel<T> channel, Func<ChannelWriter<T>, CancellationToken, Task> produce,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = produce(channel.Writer, stop.Token);
        try
        {
            await foreach (var item in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false)) yield return item;
            await producer.ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await producer.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The consumer stopped early.
            }
        }
    }

    private async Task SearchValueAsync(byte[] key, int quorum, LookupOptions lookup, ChannelWriter<DhtValue> updates, CancellationToken cancellationToken)
    {
        var collector = new ValueCollector(key, _options.Validators, LocalPeer);
        try
        {
            var local = await _store.GetRecordAsync(key, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            // Validity changes with time (expiry, revocation): a stored copy is judged again like any answer.
            if (local is not null && _options.Validators.Validate(key, local.Record.Value).IsValid
                && collector.Offer(LocalPeer, local.Record) is { } first) updates.TryWrite(first);
            var outcome = await RunLookupAsync("get-value", key, KadMessageType.GetValue, lookup, (from, response) =>
            {
                if (response.Record is not { } record)
                {
                    collector.NoValue(from);
                    return false;
                }
                var validation = record.Key.Span.SequenceEqual(key) ? _options.Validators.Validate(key, record.Value) : RecordValidationResult.Invalid("key-mismatch");
                if (!validation.IsValid)
                {
                    Reject(from, validation.Reason ?? "invalid");
                    collector.NoValue(from);
                    return false;
                }
                if (collector.Offer(from, record) is { } better) updates.TryWrite(better);
                return collector.NetworkAnswers >= quorum;
            }, cancellationToken).ConfigureAwait(false);
            if (collector.Best is not { } best) return;
            if (collector.WorseHolders().Contains(LocalPeer))
            {
                var now = _time.GetUtcNow();
                await _store.PutRecordAsync(new StoredRecord(best with { TimeReceived = now }, now + _options.RecordTtl, IsOwn: false), cancellationToken)
                    .ConfigureAwait(false);
            }
            // Entry correction: holders of a worse value, and the closest peers that had none, get the best one.
            var stale = collector.WorseHolders().Concat(outcome.Peers.Where(collector.AnsweredWithoutValue)).Where(p => p != LocalPeer).Distinct().ToList();
            if (stale.Count > 0) await PutToAsync(stale, best with { TimeReceived = null }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            updates.TryComplete();
        }
    }

    /// <summary>Announces us as a provider of <paramref name="key"/> to the k closest servers; returns how many were told.</summary>
    public async Task<int> ProvideAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken)
    {
        if (key.Length is 0 or > RecordValidators.MaxKeyLength) throw new ArgumentException("bad provider key", nameof(key));
        var now = _time.GetUtcNow();
        await _store.AddProviderAsync(key, new ProviderRecord(LocalPeer, _network.LocalAddresses, now + _options.ProviderTtl), cancellationToken)
            .ConfigureAwait(false);
        _metrics.QueryStarted("provide");
        var closest = await RunLookupAsync("provide", key, KadMessageType.FindNode, KClosestLookup, (_, _) => false, cancellationToken)
            .ConfigureAwait(false);
        var request = new KadMessage(KadMessageType.AddProvider, key, null, [], [new KadPeer(LocalPeer, _network.LocalAddresses)]);
        return await SendToAllAsync(closest.Peers, request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Streams providers of <paramref name="key"/> as they are found (ours first, then the network's), at most
    /// <paramref name="maxCount"/> (default <see cref="DhtOptions.MaxProvidersPerAnswer"/>).
    /// </summary>
    public async IAsyncEnumerable<KadPeer> FindProvidersAsync(ReadOnlyMemory<byte> key, int? maxCount = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (key.Length is 0 or > RecordValidators.MaxKeyLength) throw new ArgumentException("bad provider key", nameof(key));
        var max = maxCount ?? _options.MaxProvidersPerAnswer;
        var seen = new HashSet<PeerId>();
        var local = await _store.GetProvidersAsync(key, _time.GetUtcNow(), max, cancellationToken).ConfigureAwait(false);
        foreach (var provider in local)
        {
            if (seen.Add(provider.Provider)) yield return new KadPeer(provider.Provider, provider.Addresses);
        }
        if (seen.Count >= max) yield break;
        _metrics.QueryStarted("find-providers");
        var found = Channel.CreateBounded<KadPeer>(max);
        var keyCopy = key.ToArray();
        await foreach (var provider in StreamFromAsync(found, (writer, token) => SearchProvidersAsync(keyCopy, max, seen, writer, token),
                           cancellationToken).ConfigureAwait(false))
            yield return provider;
    }

    private async Task SearchProvidersAsync(byte[] key, int max, HashSet<PeerId> seen, ChannelWriter<KadPeer> found, CancellationToken cancellationToken)
    {
        try
        {
            await RunLookupAsync("find-providers", key, KadMessageType.GetProviders, _options.Lookup, (_, response) =>
            {
                foreach (var provider in response.ProviderPeers)
                {
                    if (seen.Count >= max || !seen.Add(provider.PeerId)) continue;
                    _network.AddAddresses(provider.PeerId, provider.Addresses);
                    found.TryWrite(provider);
                }
                return seen.Count >= max;
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            found.TryComplete();
        }
    }

    private Task<int> PutToAsync(IReadOnlyList<PeerId> peers, DhtRecord record, CancellationToken cancellationToken) =>
        SendToAllAsync(peers, new KadMessage(KadMessageType.PutValue, record.Key, record, [], []), cancellationToken);

    /// <summary>Sends one request to each peer, at most <see cref="MaxParallelStores"/> at once; counts the successes.</summary>
    private async Task<int> SendToAllAsync(IReadOnlyList<PeerId> peers, KadMessage request, CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(MaxParallelStores);
        var results = await Task.WhenAll(peers.Select(async peer =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await SendAsync(peer, request, cancellationToken).ConfigureAwait(false) is not null;
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);
        return results.Count(ok => ok);
    }
}
