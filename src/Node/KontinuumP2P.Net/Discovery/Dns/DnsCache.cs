namespace KontinuumP2P.Net.Discovery.Dns;

/// <summary>Answers by (name, type) until they expire; bounded, evicting the entry closest to expiry when full.</summary>
internal sealed class DnsCache(int capacity, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Name, DnsRecordType Type), Entry> _entries = [];

    public bool TryGet(string name, DnsRecordType type, out DnsLookupResult? result)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (_entries.TryGetValue(Key(name, type), out var entry) && entry.Expires > now)
            {
                result = entry.Result with { FromCache = true };
                return true;
            }
        }
        result = null;
        return false;
    }

    public void Add(string name, DnsRecordType type, DnsLookupResult result, TimeSpan lifetime)
    {
        if (lifetime <= TimeSpan.Zero) return;
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (_entries.Count >= capacity && !_entries.ContainsKey(Key(name, type)))
            {
                foreach (var expired in _entries.Where(e => e.Value.Expires <= now).Select(e => e.Key).ToList()) _entries.Remove(expired);
                if (_entries.Count >= capacity) _entries.Remove(_entries.MinBy(e => e.Value.Expires).Key);
            }
            _entries[Key(name, type)] = new Entry(result, now + lifetime);
        }
    }

    private static (string, DnsRecordType) Key(string name, DnsRecordType type) => (name.TrimEnd('.').ToLowerInvariant(), type);

    private sealed record Entry(DnsLookupResult Result, DateTimeOffset Expires);
}
