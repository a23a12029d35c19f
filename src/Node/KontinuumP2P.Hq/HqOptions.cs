using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq;

/// <summary>HQ's configuration (<c>hq.toml</c>, bound through <c>IConfiguration</c>; every threshold configurable).</summary>
public sealed partial class HqOptions
{
    /// <summary>Data directory (database, backups).</summary>
    public string DataDirectory { get; set; } = "hq-data";

    /// <summary>HQ's node key file (seed), whose certificate carries the <c>hq</c> capability.</summary>
    public string KeyFile { get; set; } = "hq.key";

    /// <summary>HQ's certificate file.</summary>
    public string CertificateFile { get; set; } = "hq.cert";

    /// <summary>Network: <c>mainnet</c> or a genesis file path.</summary>
    public string Network { get; set; } = "mainnet";

    /// <summary>Admin API settings.</summary>
    public AdminApiOptions Admin { get; set; } = new();

    /// <summary>HQ-side escalation thresholds.</summary>
    public EscalationSection Escalation { get; set; } = new();

    /// <summary>Mailbox-side thresholds HQ hands to devnet mailboxes (informational here).</summary>
    public HealthSection Health { get; set; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad key.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DataDirectory)) throw new ArgumentException("hq.data_directory is empty");
        Admin.Validate();
        Escalation.ToOptions().Validate();
        Health.ToOptions().Validate();
        ValidateNode();
    }

    /// <summary>[admin] section.</summary>
    public sealed class AdminApiOptions
    {
        /// <summary>Listen URL; loopback unless <see cref="AllowRemote"/>.</summary>
        public string Listen { get; set; } = "http://127.0.0.1:7420";

        /// <summary>Explicit opt-in to listen on a non-loopback address.</summary>
        public bool AllowRemote { get; set; }

        /// <summary>Requests per minute per client address.</summary>
        public int RequestsPerMinute { get; set; } = 60;

        /// <summary>Validity of newly issued certificates, days.</summary>
        public int CertificateValidityDays { get; set; } = 365;

        /// <summary>Next-update window of CRLs HQ prepares, hours.</summary>
        public int CrlValidityHours { get; set; } = 24 * 7;

        /// <summary>Tier 0 key files HQ holds and signs with at once (one for a 1-of-1 network; none when all signing is offline).</summary>
        public List<string> AnchorKeyFiles { get; set; } = [];

        /// <summary>Throws when the listen URL is not loopback without opt-in.</summary>
        public void Validate()
        {
            if (!Uri.TryCreate(Listen, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                throw new ArgumentException($"admin.listen '{Listen}' is not an http(s) URL");
            if (!AllowRemote && !IsLoopback(uri.Host))
                throw new ArgumentException($"admin.listen '{Listen}' is not loopback; set admin.allow_remote = true to expose the admin API");
            if (RequestsPerMinute < 1) throw new ArgumentException("admin.requests_per_minute must be at least 1");
            if (CertificateValidityDays is < 1 or > 3660) throw new ArgumentException("admin.certificate_validity_days must be 1..3660");
            if (CrlValidityHours < 1) throw new ArgumentException("admin.crl_validity_hours must be at least 1");
        }

        private static bool IsLoopback(string host) =>
            host is "localhost" || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip));
    }

    /// <summary>[escalation] section.</summary>
    public sealed class EscalationSection
    {
        /// <summary>Mailboxes that must report RED.</summary>
        public int RedConfirmations { get; set; } = 2;

        /// <summary>Alert lifetime without refresh, seconds.</summary>
        public double AlertTtlSeconds { get; set; } = 300;

        /// <summary>RED slots of one provider that make BLACK.</summary>
        public int BlackRedSlots { get; set; } = 3;

        /// <summary>BLACK window, seconds.</summary>
        public double BlackWindowSeconds { get; set; } = 600;

        /// <summary>The state machine's options.</summary>
        public EscalationOptions ToOptions() => new()
        {
            RedConfirmations = RedConfirmations,
            AlertTtl = TimeSpan.FromSeconds(AlertTtlSeconds),
            BlackRedSlots = BlackRedSlots,
            BlackWindow = TimeSpan.FromSeconds(BlackWindowSeconds),
        };
    }

    /// <summary>[health] section (layer 2 thresholds).</summary>
    public sealed class HealthSection
    {
        /// <summary>YELLOW above this many unique devices.</summary>
        public int YellowReportThreshold { get; set; } = 10;

        /// <summary>Report window, seconds.</summary>
        public double ReportWindowSeconds { get; set; } = 120;

        /// <summary>Check interval, seconds.</summary>
        public double CheckIntervalSeconds { get; set; } = 30;

        /// <summary>Failed checks for ORANGE.</summary>
        public int OrangeConsecutiveFailures { get; set; } = 3;

        /// <summary>Continuous failure for RED, seconds.</summary>
        public double RedAfterSeconds { get; set; } = 300;

        /// <summary>The monitor's options.</summary>
        public HealthMonitorOptions ToOptions() => new()
        {
            YellowReportThreshold = YellowReportThreshold,
            ReportWindow = TimeSpan.FromSeconds(ReportWindowSeconds),
            CheckInterval = TimeSpan.FromSeconds(CheckIntervalSeconds),
            OrangeConsecutiveFailures = OrangeConsecutiveFailures,
            RedAfter = TimeSpan.FromSeconds(RedAfterSeconds),
        };
    }
}
