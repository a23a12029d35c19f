namespace KontinuumP2P.Mailbox.Client;

/// <summary>Settings of a group client's health loop (<see cref="GroupClient.StartHealthLoop"/>).</summary>
public sealed record GroupHealthOptions
{
    /// <summary>How often unreachable mailboxes are probed, reports considered and pending re-seeds retried.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Delay between the first and second report of one unreachable mailbox; it doubles after each report.</summary>
    public TimeSpan FirstReportInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest delay between reports (keep it under the mailboxes' report window, 2 min by default).</summary>
    public TimeSpan MaxReportInterval { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Timeout of each report.</summary>
    public TimeSpan ReportTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Approximate region of this device (informational, sent with reports).</summary>
    public string Region { get; init; } = "";

    /// <summary>Blobs per second pushed to a replacement while re-seeding it (below a mailbox's per-device push limit,
    /// 100/s by default, so the application's own pushes keep room).</summary>
    public double ReseedBlobsPerSecond { get; init; } = 50;

    /// <summary>How old a live session's slot resolution may get before a health round looks at the slot's record
    /// again (a drained node keeps answering, so only the record shows the move).</summary>
    public TimeSpan SlotRefreshInterval { get; init; } = MailboxConnection.ResolveInterval;

    /// <summary>Most blob ids of the replacement held in memory while reconciling (32 bytes each); past it, the
    /// remaining blobs are pushed anyway and the mailbox drops duplicates.</summary>
    public int MaxReconciledIds { get; init; } = 1_000_000;

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value out of range.</exception>
    public void Validate()
    {
        if (Interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Interval), Interval, "must be positive");
        if (FirstReportInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(FirstReportInterval), FirstReportInterval, "must be positive");
        if (MaxReportInterval < FirstReportInterval) throw new ArgumentOutOfRangeException(nameof(MaxReportInterval), MaxReportInterval, "must be at least FirstReportInterval");
        if (ReportTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ReportTimeout), ReportTimeout, "must be positive");
        if (ReseedBlobsPerSecond is <= 0 or > 100_000 || double.IsNaN(ReseedBlobsPerSecond))
            throw new ArgumentOutOfRangeException(nameof(ReseedBlobsPerSecond), ReseedBlobsPerSecond, "must be in (0, 100000]");
        if (SlotRefreshInterval < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(SlotRefreshInterval), SlotRefreshInterval, "must not be negative");
        if (MaxReconciledIds is < 1 or > 100_000_000) throw new ArgumentOutOfRangeException(nameof(MaxReconciledIds), MaxReconciledIds, "must be 1..100000000");
    }
}
