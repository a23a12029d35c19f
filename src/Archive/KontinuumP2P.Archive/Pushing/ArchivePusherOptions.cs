namespace KontinuumP2P.Archive.Pushing;

/// <summary>When the pusher cuts a pack and how often it looks.</summary>
public sealed class ArchivePusherOptions
{
    /// <summary>A pack is written once it would reach this size (default 16 MiB).</summary>
    public long TargetPackBytes { get; set; } = 16L << 20;

    /// <summary>…or once the oldest unarchived blob it has seen waited this long (default 15 minutes).</summary>
    public TimeSpan MaxPackAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often the mailboxes are looked at when nothing nudges the pusher (default 30 s).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Blobs read from the source per call (default 1024).</summary>
    public int ReadBatchBlobs { get; set; } = 1024;

    /// <summary>Bytes read from the source per call (default 4 MiB).</summary>
    public long ReadBatchBytes { get; set; } = 4L << 20;

    internal void Validate()
    {
        if (TargetPackBytes < 1024 || TargetPackBytes > Packs.PackFormat.MaxPackBytes / 2)
            throw new ArgumentOutOfRangeException(nameof(TargetPackBytes), TargetPackBytes, $"between 1 KiB and {Packs.PackFormat.MaxPackBytes / 2} bytes");
        if (MaxPackAge <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(MaxPackAge), MaxPackAge, "must be positive");
        if (PollInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(PollInterval), PollInterval, "must be positive");
        if (ReadBatchBlobs < 1) throw new ArgumentOutOfRangeException(nameof(ReadBatchBlobs), ReadBatchBlobs, "at least 1");
        if (ReadBatchBytes < 1) throw new ArgumentOutOfRangeException(nameof(ReadBatchBytes), ReadBatchBytes, "at least 1");
    }
}
