using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Routing;

namespace KontinuumP2P.Dht.Storage;

/// <summary>A stored value record.</summary>
/// <param name="Record">The record (its <see cref="DhtRecord.TimeReceived"/> set by us).</param>
/// <param name="Expires">When it is dropped (our own records never expire; they are republished).</param>
/// <param name="IsOwn">Whether we published it (and so republish it).</param>
/// <param name="Publisher">The peer that sent it (counted against its quota); null for ours or one fetched by a lookup.</param>
public sealed record StoredRecord(DhtRecord Record, DateTimeOffset Expires, bool IsOwn, PeerId? Publisher = null);

/// <summary>A provider of a key.</summary>
/// <param name="Provider">The providing peer.</param>
/// <param name="Addresses">Its addresses as announced.</param>
/// <param name="Expires">When the announcement lapses.</param>
public sealed record ProviderRecord(PeerId Provider, IReadOnlyList<Multiaddr> Addresses, DateTimeOffset Expires);

/// <summary>What a store holds and has refused.</summary>
/// <param name="Records">Value records held.</param>
/// <param name="Providers">Provider records held.</param>
/// <param name="Refused">Writes refused because a bound was reached.</param>
public readonly record struct DhtStoreCounts(long Records, long Providers, long Refused);

/// <summary>Bounds of a store.</summary>
public sealed record DhtStoreLimits
{
    /// <summary>Most value records.</summary>
    public int MaxRecords { get; init; } = 65_536;

    /// <summary>Most provider records overall.</summary>
    public int MaxProviders { get; init; } = 262_144;

    /// <summary>Most providers kept per key (the freshest win).</summary>
    public int MaxProvidersPerKey { get; init; } = 64;

    /// <summary>Largest record value kept in a namespace without its own entry in <see cref="MaxValueSizeByNamespace"/>.</summary>
    public int MaxValueSize { get; init; } = 64 * 1024;

    /// <summary>Largest value by namespace (e.g. <c>crl</c>, whose values reach ~1 MiB), overriding <see cref="MaxValueSize"/>.</summary>
    public IReadOnlyDictionary<string, int> MaxValueSizeByNamespace { get; init; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>Most records of one namespace, so that one namespace filling up never blocks another.</summary>
    public int MaxRecordsPerNamespace { get; init; } = 16_384;

    /// <summary>Most records one peer's PUTs hold at once (records we published or fetched ourselves do not count).</summary>
    public int MaxRecordsPerPeer { get; init; } = 256;

    /// <summary>Most value bytes one peer's PUTs hold at once.</summary>
    public long MaxRecordBytesPerPeer { get; init; } = 4L * 1024 * 1024;

    /// <summary>Most provider records one peer holds at once (over all keys).</summary>
    public int MaxProvidersPerPeer { get; init; } = 4_096;

    /// <summary>Largest encoded address list of one provider record.</summary>
    public int MaxProviderAddressBytes { get; init; } = 2_048;

    /// <summary>The value-size bound of namespace <paramref name="ns"/>.</summary>
    public int MaxValueSizeOf(string? ns) => ns is not null && MaxValueSizeByNamespace.TryGetValue(ns, out var size) ? size : MaxValueSize;
}

/// <summary>
/// Durable state of a DHT node: value records, provider records, and the routing-table snapshot taken at shutdown.
/// Implementations are thread-safe and bounded; a write over a bound returns false and counts as refused. The bounds
/// (see <see cref="DhtStoreLimits"/>) are: the value size by namespace; records overall, per namespace and per
/// publishing peer (count and bytes); providers overall, per key (the announcement that lapses first makes room for a
/// new one), per peer, and their address bytes. A refused write never evicts another peer's data; space comes back by
/// expiry (48 h unless refreshed).
/// </summary>
public interface IDhtStore : IAsyncDisposable
{
    /// <summary>Inserts or replaces the record of its key. False when refused by a bound.</summary>
    ValueTask<bool> PutRecordAsync(StoredRecord record, CancellationToken cancellationToken);

    /// <summary>The unexpired record of <paramref name="key"/>, or null.</summary>
    ValueTask<StoredRecord?> GetRecordAsync(ReadOnlyMemory<byte> key, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Our own records (to republish).</summary>
    ValueTask<IReadOnlyList<StoredRecord>> GetOwnRecordsAsync(CancellationToken cancellationToken);

    /// <summary>Adds or refreshes a provider of <paramref name="key"/>. False when refused by a bound.</summary>
    ValueTask<bool> AddProviderAsync(ReadOnlyMemory<byte> key, ProviderRecord provider, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="max"/> unexpired providers of <paramref name="key"/>, freshest first.</summary>
    ValueTask<IReadOnlyList<ProviderRecord>> GetProvidersAsync(ReadOnlyMemory<byte> key, DateTimeOffset now, int max, CancellationToken cancellationToken);

    /// <summary>The keys <paramref name="provider"/> provides (ours, to republish).</summary>
    ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> GetProvidedKeysAsync(PeerId provider, CancellationToken cancellationToken);

    /// <summary>Drops expired records and providers; returns how many.</summary>
    ValueTask<int> RemoveExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Replaces the saved routing-table snapshot.</summary>
    ValueTask SaveRoutingSnapshotAsync(IReadOnlyList<RoutingTableEntry> entries, CancellationToken cancellationToken);

    /// <summary>The saved routing-table snapshot (empty when none).</summary>
    ValueTask<IReadOnlyList<RoutingTableEntry>> LoadRoutingSnapshotAsync(CancellationToken cancellationToken);

    /// <summary>Current counts.</summary>
    DhtStoreCounts Counts { get; }
}
