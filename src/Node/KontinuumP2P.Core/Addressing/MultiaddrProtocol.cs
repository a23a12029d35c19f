namespace KontinuumP2P.Core.Addressing;

/// <summary>How a multiaddr component's value is laid out in binary.</summary>
public enum ValueKind
{
    /// <summary>No value.</summary>
    None,
    /// <summary>4-byte IPv4 address.</summary>
    IPv4,
    /// <summary>16-byte IPv6 address.</summary>
    IPv6,
    /// <summary>2-byte big-endian port.</summary>
    Port,
    /// <summary>Varint length then UTF-8 text.</summary>
    Text,
    /// <summary>Varint length then a multihash (PeerId).</summary>
    PeerId,
}

/// <summary>A multiaddr protocol: its multicodec code, text name and value layout.</summary>
/// <param name="Code">The multicodec code.</param>
/// <param name="Name">The text name.</param>
/// <param name="Kind">The value layout.</param>
public sealed record MultiaddrProtocol(int Code, string Name, ValueKind Kind)
{
    /// <summary>/ip4</summary>
    public static readonly MultiaddrProtocol Ip4 = new(0x04, "ip4", ValueKind.IPv4);
    /// <summary>/tcp</summary>
    public static readonly MultiaddrProtocol Tcp = new(0x06, "tcp", ValueKind.Port);
    /// <summary>/udp</summary>
    public static readonly MultiaddrProtocol Udp = new(0x0111, "udp", ValueKind.Port);
    /// <summary>/ip6</summary>
    public static readonly MultiaddrProtocol Ip6 = new(0x29, "ip6", ValueKind.IPv6);
    /// <summary>/ip6zone</summary>
    public static readonly MultiaddrProtocol Ip6Zone = new(0x2a, "ip6zone", ValueKind.Text);
    /// <summary>/dns</summary>
    public static readonly MultiaddrProtocol Dns = new(0x35, "dns", ValueKind.Text);
    /// <summary>/dns4</summary>
    public static readonly MultiaddrProtocol Dns4 = new(0x36, "dns4", ValueKind.Text);
    /// <summary>/dns6</summary>
    public static readonly MultiaddrProtocol Dns6 = new(0x37, "dns6", ValueKind.Text);
    /// <summary>/dnsaddr</summary>
    public static readonly MultiaddrProtocol DnsAddr = new(0x38, "dnsaddr", ValueKind.Text);
    /// <summary>/quic (draft-29)</summary>
    public static readonly MultiaddrProtocol Quic = new(0x01cc, "quic", ValueKind.None);
    /// <summary>/quic-v1</summary>
    public static readonly MultiaddrProtocol QuicV1 = new(0x01cd, "quic-v1", ValueKind.None);
    /// <summary>/p2p (text alias /ipfs)</summary>
    public static readonly MultiaddrProtocol P2p = new(0x01a5, "p2p", ValueKind.PeerId);
    /// <summary>/p2p-circuit</summary>
    public static readonly MultiaddrProtocol P2pCircuit = new(0x0122, "p2p-circuit", ValueKind.None);
    /// <summary>/tls</summary>
    public static readonly MultiaddrProtocol Tls = new(0x01c0, "tls", ValueKind.None);
    /// <summary>/ws</summary>
    public static readonly MultiaddrProtocol Ws = new(0x01dd, "ws", ValueKind.None);
    /// <summary>/wss</summary>
    public static readonly MultiaddrProtocol Wss = new(0x01de, "wss", ValueKind.None);
    /// <summary>/webtransport</summary>
    public static readonly MultiaddrProtocol WebTransport = new(0x01d1, "webtransport", ValueKind.None);
    /// <summary>/memory (in-process transport)</summary>
    public static readonly MultiaddrProtocol Memory = new(0x0309, "memory", ValueKind.Text);

    private static readonly MultiaddrProtocol[] All =
        [Ip4, Tcp, Udp, Ip6, Ip6Zone, Dns, Dns4, Dns6, DnsAddr, Quic, QuicV1, P2p, P2pCircuit, Tls, Ws, Wss, WebTransport, Memory];

    private static readonly Dictionary<int, MultiaddrProtocol> ByCode = All.ToDictionary(p => p.Code);
    private static readonly Dictionary<string, MultiaddrProtocol> ByName =
        All.ToDictionary(p => p.Name, StringComparer.Ordinal).Append(new("ipfs", P2p)).ToDictionary(StringComparer.Ordinal);

    /// <summary>Finds a protocol by code.</summary>
    public static MultiaddrProtocol? FromCode(int code) => ByCode.GetValueOrDefault(code);

    /// <summary>Finds a protocol by text name (<c>ipfs</c> is an alias of <c>p2p</c>).</summary>
    public static MultiaddrProtocol? FromName(string name) => ByName.GetValueOrDefault(name);
}
