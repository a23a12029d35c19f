using KontinuumP2P.Archive.Packs;

namespace KontinuumP2P.Archive.Holders;

/// <summary>Settings of an archive holder (<see cref="ArchiveHolderServer"/>).</summary>
public sealed class ArchiveHolderOptions
{
    /// <summary>The folder of the holder's content-addressed store (the <c>dir:</c> sink's layout and durable writes).</summary>
    public string Directory { get; set; } = "";

    /// <summary>Most bytes stored in all (objects already there count; a store that would pass it is refused).</summary>
    public long QuotaBytes { get; set; } = 64L << 30;

    /// <summary>Largest object accepted (never more than <see cref="PackFormat.MaxPackBytes"/>).</summary>
    public long MaxObjectBytes { get; set; } = 160L << 20;

    /// <summary>Streams served at once; more are refused with <see cref="HolderErrorCode.Busy"/>.</summary>
    public int MaxSessions { get; set; } = 64;

    /// <summary>Stores receiving at once (each holds its object in memory until written); more are refused as busy.</summary>
    public int MaxConcurrentStores { get; set; } = 2;

    /// <summary>Time for a request frame to arrive, and for each chunk of a store after it.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Time for a whole store or fetch transfer.</summary>
    public TimeSpan TransferTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the holder announces itself (and the DHT republishes its objects' provider records on its own schedule).</summary>
    public TimeSpan AnnounceInterval { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory)) throw new ArgumentException("the holder needs a directory", nameof(Directory));
        if (QuotaBytes < 1) throw new ArgumentException("the quota must be positive", nameof(QuotaBytes));
        if (MaxObjectBytes is < 1024 or > PackFormat.MaxPackBytes)
            throw new ArgumentException($"the largest object must be 1024 to {PackFormat.MaxPackBytes} bytes", nameof(MaxObjectBytes));
        if (MaxSessions < 1 || MaxConcurrentStores < 1) throw new ArgumentException("sessions and concurrent stores must be at least 1");
        if (RequestTimeout <= TimeSpan.Zero || TransferTimeout <= TimeSpan.Zero || AnnounceInterval <= TimeSpan.Zero)
            throw new ArgumentException("timeouts and the announce interval must be positive");
    }
}
