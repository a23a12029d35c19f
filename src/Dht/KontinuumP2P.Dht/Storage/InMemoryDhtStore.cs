using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Routing;

namespace KontinuumP2P.Dht.Storage;

/// <summary>
/// A bounded in-process store for clients and simulated nodes (nothing survives the process). Collections start
/// empty so an idle node costs almost nothing.
/// </summary>
public sealed class InMemoryDhtStore : IDhtStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, StoredRecord> _records = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ProviderRecord>> _providers = new(StringComparer.Ordinal);
    private readonly Dictionary<PeerId, (int Records, long Bytes)> _byPublisher = [];
    private readonly Dictionary<string, int> _byNamespace = new(StringComparer.Ordinal);
    private readonly Dictionary<PeerId, int> _providersByPeer = [];
    private readonly DhtStoreLimits _limits;
    private IReadOnlyList<RoutingTableEntry> _snapshot = [];
    private long _providerCount, _refused;

    /// <summary>Creates an empty store.</summary>
    public InMemoryDhtStore(DhtStoreLimits? limits = null) => _limits = limits ?? new DhtStoreLimits();

    /// <inheritdoc />
    public DhtStoreCounts Counts
    {
        get
        {
            lock (_lock) return new(_records.Count, _providerCount, _refused);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> PutRecordAsync(StoredRecord record, CancellationToken cancellationToken)
    {
        var key = KeyText(record.Record.Key);
        var ns = RecordValidators.NamespaceOf(record.Record.Key.Span) ?? "";
        var publisher = record.IsOwn ? null : record.Publisher;
        lock (_lock)
        {
            var previous = _records.GetValueOrDefault(key);
            var own = record.IsOwn || previous?.IsOwn == true;
            var fits = record.Record.Value.Length <= _limits.MaxValueSizeOf(ns)
                && (previous is not null || (_records.Count < _limits.MaxRecords && _byNamespace.GetValueOrDefault(ns) < _limits.MaxRecordsPerNamespace));
            if (fits && publisher is { } peer && !own)
            {
                var (count, bytes) = _byPublisher.GetValueOrDefault(peer);
                if (previous is { IsOwn: false, Publisher: { } p } && p == peer) (count, bytes) = (count - 1, bytes - previous.Record.Value.Length);
                fits = count + 1 <= _limits.MaxRecordsPerPeer && bytes + record.Record.Value.Length <= _limits.MaxRecordBytesPerPeer;
            }
            if (!fits)
            {
                _refused++;
                return ValueTask.FromResult(false);
            }
            if (previous is null) _byNamespace[ns] = _byNamespace.GetValueOrDefault(ns) + 1;
            else Untally(previous);
            var stored = record with { IsOwn = own, Publisher = own ? null : publisher };
            _records[key] = stored;
            if (stored.Publisher is { } counted)
            {
                var (count, bytes) = _byPublisher.GetValueOrDefault(counted);
                _byPublisher[counted] = (count + 1, bytes + stored.Record.Value.Length);
            }
            return ValueTask.FromResult(true);
        }
    }

    private void Untally(StoredRecord record)
    {
        if (record.Publisher is not { } peer) return;
        var (count, bytes) = _byPublisher[peer];
        if (count == 1) _byPublisher.Remove(peer);
        else _byPublisher[peer] = (count - 1, bytes - record.Record.Value.Length);
    }

    /// <inheritdoc />
    public ValueTask<StoredRecord?> GetRecordAsync(ReadOnlyMemory<byte> key, DateTimeOffset now, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var found = _records.GetValueOrDefault(KeyText(key));
            return ValueTask.FromResult(found is not null && (found.IsOwn || found.Expires > now) ? found : null);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<StoredRecord>> GetOwnRecordsAsync(CancellationToken cancellationToken)
    {
        lock (_lock) return ValueTask.FromResult<IReadOnlyList<StoredRecord>>([.. _records.Values.Where(r => r.IsOwn)]);
    }

    /// <inheritdoc />
    public ValueTask<bool> AddProviderAsync(ReadOnlyMemory<byte> key, ProviderRecord provider, CancellationToken cancellationToken)
    {
        var text = KeyText(key);
        lock (_lock)
        {
            var list = _providers.GetValueOrDefault(text);
            var index = list?.FindIndex(p => p.Provider == provider.Provider) ?? -1;
            if (list is not null && index >= 0)
            {
                list[index] = provider;
                return ValueTask.FromResult(true);
            }
            if (_providerCount >= _limits.MaxProviders || _providersByPeer.GetValueOrDefault(provider.Provider) >= _limits.MaxProvidersPerPeer
                || provider.Addresses.Sum(a => a.AsSpan().Length + 2) > _limits.MaxProviderAddressBytes)
            {
                _refused++;
                return ValueTask.FromResult(false);
            }
            if (list is null) _providers[text] = list = [];
            if (list.Count >= _limits.MaxProvidersPerKey)
            {
                // Keep the freshest: replace the announcement that lapses first.
                var oldest = list.IndexOf(list.MinBy(p => p.Expires)!);
                CountProvider(list[oldest].Provider, -1);
                CountProvider(provider.Provider, +1);
                list[oldest] = provider;
                return ValueTask.FromResult(true);
            }
            list.Add(provider);
            CountProvider(provider.Provider, +1);
            _providerCount++;
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<ProviderRecord>> GetProvidersAsync(ReadOnlyMemory<byte> key, DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var list = _providers.GetValueOrDefault(KeyText(key));
            IReadOnlyList<ProviderRecord> result = list is null
                ? []
                : [.. list.Where(p => p.Expires > now).OrderByDescending(p => p.Expires).Take(max)];
            return ValueTask.FromResult(result);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> GetProvidedKeysAsync(PeerId provider, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<ReadOnlyMemory<byte>> keys = [.. _providers.Where(kv => kv.Value.Any(p => p.Provider == provider))
                .Select(kv => (ReadOnlyMemory<byte>)Convert.FromBase64String(kv.Key))];
            return ValueTask.FromResult(keys);
        }
    }

    /// <inheritdoc />
    public ValueTask<int> RemoveExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var removed = 0;
            foreach (var key in _records.Where(kv => !kv.Value.IsOwn && kv.Value.Expires <= now).Select(kv => kv.Key).ToList())
            {
                _records.Remove(key, out var gone);
                Untally(gone!);
                var ns = RecordValidators.NamespaceOf(gone!.Record.Key.Span) ?? "";
                if (--NamespaceCount(ns) == 0) _byNamespace.Remove(ns);
                removed++;
            }
            foreach (var (key, list) in _providers.ToList())
            {
                foreach (var lapsed in list.Where(p => p.Expires <= now)) CountProvider(lapsed.Provider, -1);
                var n = list.RemoveAll(p => p.Expires <= now);
                removed += n;
                _providerCount -= n;
                if (list.Count == 0) _providers.Remove(key);
            }
            return ValueTask.FromResult(removed);
        }
    }

    /// <inheritdoc />
    public ValueTask SaveRoutingSnapshotAsync(IReadOnlyList<RoutingTableEntry> entries, CancellationToken cancellationToken)
    {
        lock (_lock) _snapshot = [.. entries];
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<RoutingTableEntry>> LoadRoutingSnapshotAsync(CancellationToken cancellationToken)
    {
        lock (_lock) return ValueTask.FromResult(_snapshot);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private ref int NamespaceCount(string ns) =>
        ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_byNamespace, ns);

    private void CountProvider(PeerId peer, int delta)
    {
        var count = _providersByPeer.GetValueOrDefault(peer) + delta;
        if (count <= 0) _providersByPeer.Remove(peer);
        else _providersByPeer[peer] = count;
    }

    private static string KeyText(ReadOnlyMemory<byte> key) => Convert.ToBase64String(key.Span);
}
