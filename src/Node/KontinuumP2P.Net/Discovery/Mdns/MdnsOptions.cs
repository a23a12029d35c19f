using System.Net;
using System.Net.NetworkInformation;

namespace KontinuumP2P.Net.Discovery.Mdns;

/// <summary>Settings of <see cref="MdnsService"/>. Defaults follow the libp2p mDNS spec and what @libp2p/mdns does.</summary>
public sealed class MdnsOptions
{
    /// <summary>The public libp2p service name.</summary>
    public const string DefaultServiceName = "_p2p._udp.local";

    /// <summary>
    /// Fingerprint of a private network; when set the service becomes <c>_p2p-&lt;lower-case hex&gt;._udp.local</c> so
    /// that public and private networks do not discover each other. At most 29 bytes (one 63-byte DNS label).
    /// </summary>
    public byte[]? NetworkFingerprint { get; init; }

    /// <summary>Our DNS-SD instance label; null picks 32 random lower-case alphanumerics at construction (never the PeerId).</summary>
    public string? PeerName { get; init; }

    /// <summary>How often we ask for peers after the first two queries (js default: 10 s).</summary>
    public TimeSpan QueryInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>TTL of the records we announce (js and go: 120 s).</summary>
    public TimeSpan RecordTtl { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Shortest interval between two multicast responses on one interface (RFC 6762 §6: one second).</summary>
    public TimeSpan MinResponseInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>UDP port (5353; tests inside a network namespace may use another).</summary>
    public int Port { get; init; } = 5353;

    /// <summary>IPv4 multicast group.</summary>
    public IPAddress MulticastAddress { get; init; } = IPAddress.Parse("224.0.0.251");

    /// <summary>
    /// Chooses the interfaces to use; null means every interface that is up (or of unknown state, as Linux reports
    /// <c>lo</c>), supports multicast and has an IPv4 address.
    /// </summary>
    public Func<NetworkInterface, bool>? InterfaceFilter { get; init; }

    /// <summary>Also advertise public (non-private, non-loopback) addresses; js advertises only private ones.</summary>
    public bool AdvertisePublicAddresses { get; init; }

    /// <summary>Most addresses put in one response.</summary>
    public int MaxAdvertisedAddresses { get; init; } = 16;

    /// <summary>Largest datagram we send (kept under a typical Ethernet MTU).</summary>
    public int MaxSendPacketLength { get; init; } = 1400;

    /// <summary>Largest datagram accepted (RFC 6762 §17 allows up to 9000 bytes); longer ones are dropped.</summary>
    public int MaxReceivePacketLength { get; init; } = 9000;

    /// <summary>Most peers remembered at once; announcements of further peers are dropped until some expire.</summary>
    public int MaxKnownPeers { get; init; } = 1024;

    /// <summary>Most addresses accepted from one announcing peer.</summary>
    public int MaxAddressesPerPeer { get; init; } = 32;

    /// <summary>
    /// Longest TTL believed from a packet: a record announced for decades is kept this long after its last
    /// announcement (live peers re-announce on every query, every <see cref="QueryInterval"/>).
    /// </summary>
    public TimeSpan MaxAcceptedTtl { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Packets per second accepted from one source address once its burst is spent.</summary>
    public double PerSourcePacketsPerSecond { get; init; } = 10;

    /// <summary>Packets one source may send at once before <see cref="PerSourcePacketsPerSecond"/> applies.</summary>
    public int PerSourceBurst { get; init; } = 20;

    /// <summary>Most sources rate-limited individually; idle ones are forgotten first.</summary>
    public int MaxTrackedSources { get; init; } = 256;

    /// <summary>The service name these options select.</summary>
    public string ServiceName => NetworkFingerprint is null
        ? DefaultServiceName
        : $"_p2p-{Convert.ToHexStringLower(NetworkFingerprint)}._udp.local";

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (NetworkFingerprint is { Length: 0 or > 29 }) throw new ArgumentException("NetworkFingerprint must be 1..29 bytes");
        if (PeerName is not null && (PeerName.Length is 0 or > 63 || !PeerName.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')))
            throw new ArgumentException("PeerName must be 1..63 ASCII letters, digits or '-'");
        if (QueryInterval < TimeSpan.FromSeconds(1)) throw new ArgumentException("QueryInterval must be at least 1 s");
        if (RecordTtl < TimeSpan.FromSeconds(1) || RecordTtl > TimeSpan.FromHours(1)) throw new ArgumentException("RecordTtl must be 1 s..1 h");
        if (MinResponseInterval < TimeSpan.Zero) throw new ArgumentException("MinResponseInterval must not be negative");
        if (Port is <= 0 or > 65535) throw new ArgumentException("Port must be 1..65535");
        if (MaxSendPacketLength is < 512 or > 9000) throw new ArgumentException("MaxSendPacketLength must be 512..9000");
        if (MaxReceivePacketLength is < 512 or > 65535) throw new ArgumentException("MaxReceivePacketLength must be 512..65535");
        if (MaxAcceptedTtl < TimeSpan.FromSeconds(1)) throw new ArgumentException("MaxAcceptedTtl must be at least 1 s");
        if (!(PerSourcePacketsPerSecond > 0) || PerSourceBurst < 1 || MaxTrackedSources < 1) throw new ArgumentException("per-source limits must be positive");
        if (MaxKnownPeers < 1 || MaxAdvertisedAddresses < 1 || MaxAddressesPerPeer < 1) throw new ArgumentException("limits must be positive");
    }
}
