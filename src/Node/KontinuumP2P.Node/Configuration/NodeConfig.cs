namespace KontinuumP2P.Node.Configuration;

/// <summary>
/// The contents of <c>node.toml</c>. Each property is a TOML table whose snake_case name is the section name
/// (<c>[identity]</c>, <c>[network]</c> …); every key can be overridden by the environment variable
/// <c>KONTINUUM__SECTION__KEY</c>. Defaults apply to keys that are absent. Load with <see cref="NodeConfigLoader"/>.
/// </summary>
public sealed class NodeConfig
{
    /// <summary><c>[identity]</c>: key and certificate files.</summary>
    public IdentitySection Identity { get; set; } = new();

    /// <summary><c>[node]</c>: what the node is and where it keeps state.</summary>
    public NodeSection Node { get; set; } = new();

    /// <summary><c>[network]</c>: which network, where to listen, how to find peers.</summary>
    public NetworkSection Network { get; set; } = new();

    /// <summary><c>[dht]</c>: DHT mode and protocol.</summary>
    public DhtSection Dht { get; set; } = new();

    /// <summary><c>[crl]</c>: revocation list refresh.</summary>
    public CrlSection Crl { get; set; } = new();

    /// <summary><c>[records]</c>: our node record.</summary>
    public RecordsSection Records { get; set; } = new();

    /// <summary><c>[metrics]</c>: the loopback metrics and status endpoint.</summary>
    public MetricsSection Metrics { get; set; } = new();

    /// <summary><c>[log]</c>: console logging.</summary>
    public LogSection Log { get; set; } = new();

    /// <summary><c>[mailbox]</c>: the encrypted blob mailbox server (needs the <c>mailbox</c> capability).</summary>
    public MailboxSection Mailbox { get; set; } = new();

    /// <summary><c>[archive]</c>: the cold-archive pusher over the replica mailboxes.</summary>
    public ArchiveSection Archive { get; set; } = new();

    /// <summary><c>[content]</c>: the large-content store beside the mailbox server (quota, TTL, size limits).</summary>
    public ContentSection Content { get; set; } = new();
    /// <summary><c>[archive_holder]</c>: keep archive packs for the network (needs the <c>archive</c> capability).</summary>
    public ArchiveHolderSection ArchiveHolder { get; set; } = new();
    /// <summary><c>[health]</c>: fleet health beside the mailbox server (alerts to HQ).</summary>
    public HealthSection Health { get; set; } = new();

    /// <summary><c>[limits]</c>: connection budgets, peer store pools, resource scopes, stale-CRL policy.</summary>
    public LimitsSection Limits { get; set; } = new();
}

/// <summary><c>[identity]</c>.</summary>
public sealed class IdentitySection
{
    /// <summary>The node key file written by <c>node bootstrap</c> (plain or encrypted); required.</summary>
    public string KeyFile { get; set; } = "";

    /// <summary>The certificate file; an empty file means no certificate (client mode only).</summary>
    public string CertFile { get; set; } = "";

    /// <summary>Environment variable holding the key file's passphrase.</summary>
    public string PassphraseEnv { get; set; } = "KONTINUUM_NODE_PASSPHRASE";

    /// <summary>File whose first line is the passphrase (e.g. a systemd credential); read before the variable.</summary>
    public string PassphraseFile { get; set; } = "";
}

/// <summary><c>[node]</c>.</summary>
public sealed class NodeSection
{
    /// <summary>Requested tier (informational here: the certificate decides).</summary>
    public long Tier { get; set; } = 1;

    /// <summary><c>single</c> or <c>multi</c> (informational).</summary>
    public string Tenancy { get; set; } = "multi";

    /// <summary>Operator kind (informational).</summary>
    public string Operator { get; set; } = "org";

    /// <summary>Geo zone (informational).</summary>
    public string GeoZone { get; set; } = "";

    /// <summary>Folder for the DHT store, routing snapshot and CRL high-water mark; default <c>data/</c> beside <c>config/</c>.</summary>
    public string DataDir { get; set; } = "";
}

/// <summary><c>[network]</c>.</summary>
public sealed class NetworkSection
{
    /// <summary><c>mainnet</c>, <c>open</c> or a genesis file path (relative paths start at the config file's folder).</summary>
    public string Network { get; set; } = "mainnet";

    /// <summary>Multiaddrs to listen on.</summary>
    public IList<string> Listen { get; set; } = ["/ip4/0.0.0.0/tcp/4001"];

    /// <summary>Bootstrap peers (<c>…/p2p/&lt;id&gt;</c> or <c>/dnsaddr/…</c>) besides the network's own.</summary>
    public IList<string> ExtraBootstrapPeers { get; set; } = [];

    /// <summary>Announce and discover peers by mDNS on the LAN.</summary>
    public bool Mdns { get; set; }

    /// <summary>Keep dialing bootstrap peers (with backoff) while few peers are connected.</summary>
    public bool BootstrapReconnect { get; set; } = true;
}

/// <summary><c>[dht]</c>.</summary>
public sealed class DhtSection
{
    /// <summary><c>server</c> (needs a certificate on an admission network), <c>client</c> or <c>auto</c>.</summary>
    public string Mode { get; set; } = "auto";

    /// <summary>Kad protocol id; empty for the network's own.</summary>
    public string KadProtocol { get; set; } = "";
}

/// <summary><c>[crl]</c>.</summary>
public sealed class CrlSection
{
    /// <summary>How often the CRL is fetched from the DHT, e.g. <c>10m</c>.</summary>
    public string RefreshInterval { get; set; } = "10m";
}

/// <summary><c>[records]</c>.</summary>
public sealed class RecordsSection
{
    /// <summary>How often our node record is republished, e.g. <c>1h</c>.</summary>
    public string RepublishInterval { get; set; } = "1h";
}

/// <summary><c>[metrics]</c>.</summary>
public sealed class MetricsSection
{
    /// <summary>Serve <c>/metrics</c>, <c>/status</c> and <c>/resolve/&lt;peer id&gt;</c>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary><c>host:port</c> of the endpoint; loopback only unless <see cref="AllowNonLoopback"/>.</summary>
    public string Listen { get; set; } = "127.0.0.1:9464";

    /// <summary>Allow a non-loopback <see cref="Listen"/> address (the endpoint has no authentication).</summary>
    public bool AllowNonLoopback { get; set; }
}

/// <summary><c>[log]</c>.</summary>
public sealed class LogSection
{
    /// <summary><c>trace</c>, <c>debug</c>, <c>information</c>, <c>warning</c>, <c>error</c>, <c>critical</c>.</summary>
    public string Level { get; set; } = "information";

    /// <summary><c>simple</c> or <c>json</c> (one JSON object per line); <c>node run --json</c> forces <c>json</c>.</summary>
    public string Format { get; set; } = "simple";
}
