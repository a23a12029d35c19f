using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Routing;

namespace KontinuumP2P.Dht.Storage;

/// <summary>A stored value record.</summary>
/// <param name="Record">The record (its <see cref="DhtRecord.TimeReceived"/> set by us).</param>
/// <param name="Expires">When it is dropped (our own records never expire; they are republished).</param>
/// <param name="IsOwn">Whether we published it (and so republish it).</param>
public sealed record StoredRecord(DhtRecord Record, DateTimeOffset Expires, bool IsOwn);

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

    /// <summary>Largest record value kept.</summary>
    public int MaxValueSize { get; init; } = 64 * 1024;
}

/// <summary>
/// Durable state of a DHT node: value records, provider records, and the routing-table snapshot taken at shutdown.
/// Implementations are thread-safe and bounded; a write over a bound returns false and counts as refused.
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
