namespace KontinuumP2P.Node.Configuration;

/// <summary>
/// <c>[health]</c>: fleet health on a mailbox node (<c>/kontinuum/health/1.0.0</c>, layer 2). Served whenever
/// <c>[mailbox]</c> is enabled; the thresholds default to the orchestration seed's, a devnet scales them down.
/// </summary>
public sealed class HealthSection
{
    /// <summary>HQ's multiaddr with <c>/p2p/</c>: where signed alerts go. Empty: checks run, no alerts are sent.</summary>
    public string Hq { get; set; } = "";

    /// <summary>YELLOW when more than this many registered devices reported a mailbox within <see cref="ReportWindow"/>.</summary>
    public long YellowReportThreshold { get; set; } = 10;

    /// <summary>Sliding window over which device reports are counted.</summary>
    public string ReportWindow { get; set; } = "2m";

    /// <summary>Interval of checks against a watched mailbox.</summary>
    public string CheckInterval { get; set; } = "30s";

    /// <summary>ORANGE after this many failed checks in a row.</summary>
    public long OrangeConsecutiveFailures { get; set; } = 3;

    /// <summary>RED (at this mailbox) after this long of continuous failure.</summary>
    public string RedAfter { get; set; } = "5m";

    /// <summary>While a mailbox is not GREEN its alert is re-sent to HQ this often.</summary>
    public string AlertRefresh { get; set; } = "1m";

    /// <summary>Timeout of one check or alert.</summary>
    public string Timeout { get; set; } = "10s";
}
