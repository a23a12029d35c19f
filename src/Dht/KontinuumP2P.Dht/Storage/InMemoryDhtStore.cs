using KontinuumP2P.Core.Identity;
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
        lock (_lock)
        {
            if (record.Record.Value.Length > _limits.MaxValueSize || (!_records.ContainsKey(key) && _records.Count >= _limits.MaxRecords))
            {
                _refused++;
                return ValueTask.FromResult(false);
            }
            _records[key] = record;
            return ValueTask.FromResult(true);
        }
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
            if (_providerCount >= _limits.MaxProviders)
            {
                _refused++;
                return ValueTask.FromResult(false);
            }
            if (list is null) _providers[text] = list = [];
            if (list.Count >= _limits.MaxProvidersPerKey)
            {
                // Keep the freshest: replace the announcement that lapses first.
                var oldest = list.IndexOf(list.MinBy(p => p.Expires)!);
                list[oldest] = provider;
                return ValueTask.FromResult(true);
            }
            list.Add(provider);
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
                _records.Remove(key);
                removed++;
            }
            foreach (var (key, list) in _providers.ToList())
            {
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

    private static string KeyText(ReadOnlyMemory<byte> key) => Convert.ToBase64String(key.Span);
}
