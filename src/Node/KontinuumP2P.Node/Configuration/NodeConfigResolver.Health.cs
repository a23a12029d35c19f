using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Node.Configuration;

public static partial class NodeConfigResolver
{
    private static readonly TimeSpan MaxHealthInterval = TimeSpan.FromDays(1);

    // Health runs beside the mailbox server only: a node without mailboxes has no registered devices to count.
    private static NodeHealthOptions? ResolveHealth(HealthSection section, bool mailboxEnabled)
    {
        if (!mailboxEnabled) return null;
        Multiaddr? hq = null;
        if (section.Hq.Length > 0)
        {
            hq = ParseAddress("health.hq", section.Hq);
            if (hq.PeerId is null) throw new NodeConfigException("health.hq", $"health.hq: '{section.Hq}' needs HQ's /p2p/ peer id");
        }
        var timeout = ConfigDuration.Parse("health.timeout", section.Timeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        var monitor = new HealthMonitorOptions
        {
            YellowReportThreshold = Int("health.yellow_report_threshold", section.YellowReportThreshold),
            ReportWindow = ConfigDuration.Parse("health.report_window", section.ReportWindow, TimeSpan.FromMilliseconds(100), MaxHealthInterval),
            CheckInterval = ConfigDuration.Parse("health.check_interval", section.CheckInterval, TimeSpan.FromMilliseconds(100), MaxHealthInterval),
            OrangeConsecutiveFailures = Int("health.orange_consecutive_failures", section.OrangeConsecutiveFailures),
            RedAfter = ConfigDuration.Parse("health.red_after", section.RedAfter, TimeSpan.FromMilliseconds(100), MaxHealthInterval),
            AlertRefreshInterval = ConfigDuration.Parse("health.alert_refresh", section.AlertRefresh, TimeSpan.FromMilliseconds(100), MaxHealthInterval),
        };
        try
        {
            monitor.Validate();
        }
        catch (ArgumentException e)
        {
            var key = "health." + NodeConfigSchema.Naming.ConvertName(e.ParamName ?? "");
            throw new NodeConfigException(key, $"{key}: {e.Message}", e);
        }
        var tick = monitor.CheckInterval < TimeSpan.FromSeconds(1) ? monitor.CheckInterval : TimeSpan.FromSeconds(1);
        return new NodeHealthOptions
        {
            Hq = hq,
            Service = new HealthServiceOptions { Monitor = monitor, CheckTimeout = timeout, RequestTimeout = timeout, Tick = tick },
        };
    }
}
