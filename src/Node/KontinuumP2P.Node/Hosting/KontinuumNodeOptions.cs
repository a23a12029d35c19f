using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Dht;
using KontinuumP2P.Net.Discovery.Bootstrap;
using KontinuumP2P.Node.Configuration;
using KontinuumP2P.Node.Networks;

namespace KontinuumP2P.Node.Hosting;

/// <summary>Everything a <see cref="KontinuumNode"/> needs. Only <see cref="Identity"/> is required.</summary>
public sealed class KontinuumNodeOptions
{
    /// <summary>The node's Ed25519 identity (its PeerId and Noise key).</summary>
        public Ed25519Identity? Identity { get; set; }

    /// <summary>The network to join (default: mainnet).</summary>
        public NetworkDefinition Network { get; set; } = Mainnet.Definition;

    /// <summary>Our Tier 0 certificate; null for a client (DHT client mode, queries only).</summary>
    public Certificate? Certificate { get; set; }

    /// <summary>Addresses to listen on; empty for a client that only dials out.</summary>
    public IList<Multiaddr> ListenAddresses { get; set; } = [];

    /// <summary>Bootstrap peers in addition to the network's own.</summary>
    public IList<Multiaddr> ExtraBootstrapPeers { get; set; } = [];

    /// <summary>DHT mode; by default server with a certificate (or on the open network with listen addresses), else client.</summary>
    public DhtMode? DhtMode { get; set; }

    /// <summary>
    /// Keep dialing the bootstrap peers (the network's and <see cref="ExtraBootstrapPeers"/>, <c>/dnsaddr</c> included)
    /// with these settings (per-peer backoff, reconnect after disconnects) while few peers are connected; null (the
    /// default) dials them once, when the DHT joins.
    /// </summary>
    public BootstrapOptions? BootstrapDialing { get; set; }

    /// <summary>Announce this node and connect to peers found by mDNS on the LAN (UDP port 5353).</summary>
    public bool EnableMdns { get; set; }

    /// <summary>Folder for the DHT store and the CRL high-water mark; null keeps everything in memory.</summary>
    public string? DataDirectory { get; set; }

    /// <summary>Transports; TCP when empty.</summary>
    public IList<ITransport> Transports { get; set; } = [];

    /// <summary>How long a peer may take to push its certificate before it counts as a client.</summary>
    public TimeSpan CertificateOfferTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Bounds of admission: verdicts remembered on peers gone, and how often every peer is judged again.</summary>
    public Admission.AdmissionLimits AdmissionLimits { get; set; } = new();

    /// <summary>How often our node record is republished (it also is whenever our addresses change).</summary>
    public TimeSpan NodeRecordRepublishInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How often the CRL is fetched from the DHT (once at start, then at this interval). Zero turns fetching off: the
    /// node then knows only CRLs given to it (<see cref="KontinuumNode.InstallCrl"/>, <see cref="KontinuumNode.PublishCrlAsync"/>);
    /// simulations of nodes that ignore the CRL use it.
    /// </summary>
    public TimeSpan CrlRefreshInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Publish our node record at start and republish it every <see cref="NodeRecordRepublishInterval"/> (DHT servers
    /// with a certificate only). A simulation that publishes records at chosen times turns it off.
    /// </summary>
    public bool PublishNodeRecord { get; set; } = true;

    /// <summary>Adjusts the DHT settings the node derives (protocol, validators and admission are set by the node).</summary>
    public Func<DhtOptions, DhtOptions>? ConfigureDht { get; set; }

    /// <summary>Serve encrypted blob mailboxes with these settings; null (the default) serves none. Needs a certificate with the <c>mailbox</c> capability.</summary>
    public KontinuumP2P.Mailbox.Server.MailboxServerOptions? Mailbox { get; set; }

    /// <summary>Run the cold-archive pusher over this node's replica mailboxes; null (the default) runs none. Needs <see cref="Mailbox"/> as a replica.</summary>
    public NodeArchiveOptions? Archive { get; set; }

    /// <summary>
    /// The content server beside the mailbox server (<c>[content]</c>): null (the default) serves content with default
    /// quota, TTL and limits from the folder <c>content</c> beside the mailbox database. Used only when <see cref="Mailbox"/> is set.
    /// </summary>
    public KontinuumP2P.Mailbox.Content.ContentServerOptions? Content { get; set; }

    /// <summary>Serve <c>/kontinuum/content/1.0.0</c> beside the mailbox server (<c>content.enabled</c>).</summary>
    public bool ServeContent { get; set; } = true;

    /// <summary>
    /// A device node (no <see cref="Mailbox"/>) serves the contents it offers through <see cref="KontinuumNode.ContentSender"/>
    /// while it runs, read-only, so receivers can fetch chunks the mailbox nodes lack from the sender itself.
    /// </summary>
    public bool ServeOwnContent { get; set; }
    /// <summary>Keep archive packs for the network's pushers (<c>/kontinuum/archive/1.0.0</c>); null (the default) holds none. Needs a certificate with the <c>archive</c> capability.</summary>
    public KontinuumP2P.Archive.Holders.ArchiveHolderOptions? ArchiveHolder { get; set; }
    /// <summary>
    /// Fleet health beside the mailbox server (the health protocol, checks, alerts to HQ); used only when
    /// <see cref="Mailbox"/> is set, with defaults when null.
    /// </summary>
    public NodeHealthOptions? Health { get; set; }

    /// <summary>Connection budgets, peer store pools and resource scope limits of the node's host; null keeps the host's defaults.</summary>
    public NodeLimits? Limits { get; set; }

    /// <summary>Set when configuration could not be turned into options; reported by validation at start.</summary>
    internal NodeConfigException? ConfigurationError { get; set; }

    /// <summary>Copies every setting of <paramref name="other"/> (configuration resolved into options).</summary>
    internal void CopyFrom(KontinuumNodeOptions other)
    {
        Identity = other.Identity;
        Network = other.Network;
        Certificate = other.Certificate;
        ListenAddresses = [.. other.ListenAddresses];
        ExtraBootstrapPeers = [.. other.ExtraBootstrapPeers];
        DhtMode = other.DhtMode;
        BootstrapDialing = other.BootstrapDialing;
        EnableMdns = other.EnableMdns;
        DataDirectory = other.DataDirectory;
        Transports = [.. other.Transports];
        CertificateOfferTimeout = other.CertificateOfferTimeout;
        NodeRecordRepublishInterval = other.NodeRecordRepublishInterval;
        CrlRefreshInterval = other.CrlRefreshInterval;
        PublishNodeRecord = other.PublishNodeRecord;
        ConfigureDht = other.ConfigureDht;
        AdmissionLimits = other.AdmissionLimits;
        Mailbox = other.Mailbox;
        Archive = other.Archive;
        Content = other.Content;
        ServeContent = other.ServeContent;
        ServeOwnContent = other.ServeOwnContent;
        ArchiveHolder = other.ArchiveHolder;
        Health = other.Health;
        Limits = other.Limits;
    }

    private void ValidateMailbox()
    {
        if (Mailbox is null) return;
        if (Certificate is null || !Certificate.Body.Capabilities.Contains(MailboxCapability, StringComparer.Ordinal))
        {
            throw new NodeConfigException("mailbox.enabled",
                $"mailbox.enabled: the mailbox server is enabled but this node's certificate {(Certificate is null ? "is missing" : "lacks the 'mailbox' capability")}; " +
                "request a certificate with that capability or disable [mailbox]");
        }
        try
        {
            Mailbox.Validate();
        }
        catch (ArgumentException e)
        {
            throw new NodeConfigException("mailbox", $"mailbox: {e.Message}");
        }
    }

    private void ValidateArchiveHolder()
    {
        if (ArchiveHolder is null) return;
        var capability = KontinuumP2P.Archive.Holders.ArchiveHolderProtocol.HolderCapability;
        if (Certificate is null || !Certificate.Body.Capabilities.Contains(capability, StringComparer.Ordinal))
        {
            throw new NodeConfigException("archive_holder.enabled",
                $"archive_holder.enabled: this node's certificate {(Certificate is null ? "is missing" : "lacks the 'archive' capability")}; " +
                "request a certificate with that capability or disable [archive_holder]");
        }
        try
        {
            ArchiveHolder.Validate();
        }
        catch (ArgumentException e)
        {
            throw new NodeConfigException("archive_holder", $"archive_holder: {e.Message}");
        }
    }

    /// <summary>The certificate capability a node needs to serve mailboxes.</summary>
    public const string MailboxCapability = "mailbox";

    /// <summary>
    /// Checks the settings: the one validation of the node's options, whichever way they were made (code, node.toml,
    /// <c>IConfiguration</c>). The exception names the setting as node.toml does (<c>section.key</c>) where it has one.
    /// </summary>
    /// <exception cref="NodeConfigException">A setting is missing or out of range.</exception>
    public void Validate()
    {
        if (Identity is null) throw new NodeConfigException("identity.key_file", "identity.key_file: the node has no identity (Identity is required)");
        if (Network is null) throw new NodeConfigException("network.network", "network.network: no network (Network is required)");
        CheckRange("CertificateOfferTimeout", CertificateOfferTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
        CheckRange("records.republish_interval", NodeRecordRepublishInterval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(2));
        if (CrlRefreshInterval != TimeSpan.Zero) CheckRange("crl.refresh_interval", CrlRefreshInterval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(2));
        if (Certificate is not null && !Certificate.Body.NodePublicKey.Span.SequenceEqual(Identity.PublicKey))
            throw new NodeConfigException("identity.cert_file", "identity.cert_file: the certificate names another node key than the identity");
        if (DhtMode == Dht.DhtMode.Server && ListenAddresses.Count == 0)
            throw new NodeConfigException("dht.mode", "dht.mode: a DHT server needs at least one listen address (network.listen)");
        ValidateMailbox();
        try
        {
            Content?.Validate();
        }
        catch (ArgumentException e)
        {
            throw new NodeConfigException("content", $"content: {e.Message}");
        }
        Archive?.Validate(this);
        ValidateArchiveHolder();
    }

    private static void CheckRange(string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max) throw new NodeConfigException(key, $"{key}: {value} is outside {min} to {max}");
    }
}
