namespace KontinuumP2P.Mailbox.Health;

/// <summary>
/// Thresholds of the mailbox side of fleet health (layer 2). Defaults are the orchestration seed's; tests and devnet
/// scale them down.
/// </summary>
public sealed record HealthMonitorOptions
{
    /// <summary>YELLOW when MORE than this many unique registered devices reported a target within <see cref="ReportWindow"/>.</summary>
    public int YellowReportThreshold { get; init; } = 10;

    /// <summary>Sliding window over which device reports are counted.</summary>
    public TimeSpan ReportWindow { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Interval of health checks against a watched target.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>ORANGE after this many consecutive failed checks.</summary>
    public int OrangeConsecutiveFailures { get; init; } = 3;

    /// <summary>RED (locally) after this long of continuous failure, measured from the first failed check of the run.</summary>
    public TimeSpan RedAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Most devices remembered per target (oldest report evicted first); must exceed the YELLOW threshold.</summary>
    public int MaxDevicesPerTarget { get; init; } = 256;

    /// <summary>Most targets tracked (the longest-quiet healthy target is evicted first).</summary>
    public int MaxTargets { get; init; } = 1024;

    /// <summary>While a target is not GREEN, its alert is re-sent to HQ this often (HQ forgets stale alerts).</summary>
    public TimeSpan AlertRefreshInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(YellowReportThreshold, 1, nameof(YellowReportThreshold));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ReportWindow, TimeSpan.Zero, nameof(ReportWindow));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(CheckInterval, TimeSpan.Zero, nameof(CheckInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(OrangeConsecutiveFailures, 1, nameof(OrangeConsecutiveFailures));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RedAfter, TimeSpan.Zero, nameof(RedAfter));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MaxDevicesPerTarget, YellowReportThreshold, nameof(MaxDevicesPerTarget));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTargets, 1, nameof(MaxTargets));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AlertRefreshInterval, TimeSpan.Zero, nameof(AlertRefreshInterval));
    }
}
