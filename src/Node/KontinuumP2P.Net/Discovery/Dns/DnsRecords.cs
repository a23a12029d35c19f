using System.Net;
using System.Net.Sockets;

namespace KontinuumP2P.Net.Discovery.Dns;

/// <summary>DNS resource record types this codec understands (others decode as <see cref="UnknownDnsRecord"/>).</summary>
public enum DnsRecordType : ushort
{
    /// <summary>IPv4 address.</summary>
    A = 1,
    /// <summary>Canonical name alias.</summary>
    Cname = 5,
    /// <summary>Domain name pointer (DNS-SD service instances).</summary>
    Ptr = 12,
    /// <summary>Text strings (dnsaddr, DNS-SD attributes).</summary>
    Txt = 16,
    /// <summary>IPv6 address.</summary>
    Aaaa = 28,
    /// <summary>Service location.</summary>
    Srv = 33,
    /// <summary>EDNS(0) pseudo-record.</summary>
    Opt = 41,
    /// <summary>Any type (queries only).</summary>
    Any = 255,
}

/// <summary>Well-known DNS class values.</summary>
public static class DnsClass
{
    /// <summary>The Internet class.</summary>
    public const ushort Internet = 1;

    /// <summary>
    /// The top bit of the class field: in mDNS questions "unicast response requested" (QU), in mDNS records
    /// "cache flush" (RFC 6762 §5.4, §10.2). The remaining 15 bits are the class.
    /// </summary>
    public const ushort TopBit = 0x8000;
}

/// <summary>One question of a DNS message.</summary>
/// <param name="Name">The owner name, dotted, without the trailing dot.</param>
/// <param name="Type">The record type asked for.</param>
/// <param name="Class">The class including the mDNS QU bit.</param>
public sealed record DnsQuestion(string Name, DnsRecordType Type, ushort Class = DnsClass.Internet)
{
    /// <summary>True when the mDNS "unicast response requested" bit is set.</summary>
    public bool UnicastResponseRequested => (Class & DnsClass.TopBit) != 0;
}

/// <summary>A resource record. Subclasses carry the typed RDATA.</summary>
/// <param name="Name">The owner name, dotted, without the trailing dot.</param>
/// <param name="Class">The class including the mDNS cache-flush bit.</param>
/// <param name="Ttl">Time to live in seconds.</param>
public abstract record DnsRecord(string Name, ushort Class, uint Ttl)
{
    /// <summary>The record type.</summary>
    public abstract DnsRecordType Type { get; }
}

/// <summary>An A or AAAA record.</summary>
/// <param name="Name">Owner name.</param>
/// <param name="Class">Class.</param>
/// <param name="Ttl">Time to live in seconds.</param>
/// <param name="Address">The IPv4 (A) or IPv6 (AAAA) address.</param>
public sealed record AddressDnsRecord(string Name, ushort Class, uint Ttl, IPAddress Address) : DnsRecord(Name, Class, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => Address.AddressFamily == AddressFamily.InterNetworkV6 ? DnsRecordType.Aaaa : DnsRecordType.A;
}

/// <summary>A PTR or CNAME record: a name pointing at another name.</summary>
/// <param name="Name">Owner name.</param>
/// <param name="Class">Class.</param>
/// <param name="Ttl">Time to live in seconds.</param>
/// <param name="RecordType"><see cref="DnsRecordType.Ptr"/> or <see cref="DnsRecordType.Cname"/>.</param>
/// <param name="Target">The name pointed at.</param>
public sealed record NameDnsRecord(string Name, ushort Class, uint Ttl, DnsRecordType RecordType, string Target) : DnsRecord(Name, Class, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => RecordType;
}

/// <summary>A TXT record: one or more character strings of at most 255 bytes each.</summary>
/// <param name="Name">Owner name.</param>
/// <param name="Class">Class.</param>
/// <param name="Ttl">Time to live in seconds.</param>
/// <param name="Strings">The raw character strings.</param>
public sealed record TxtDnsRecord(string Name, ushort Class, uint Ttl, IReadOnlyList<byte[]> Strings) : DnsRecord(Name, Class, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => DnsRecordType.Txt;
}

/// <summary>An SRV record.</summary>
/// <param name="Name">Owner name.</param>
/// <param name="Class">Class.</param>
/// <param name="Ttl">Time to live in seconds.</param>
/// <param name="Priority">Priority (lower first).</param>
/// <param name="Weight">Weight among equal priorities.</param>
/// <param name="Port">Port of the service.</param>
/// <param name="Target">Host name of the service.</param>
public sealed record SrvDnsRecord(string Name, ushort Class, uint Ttl, ushort Priority, ushort Weight, ushort Port, string Target)
    : DnsRecord(Name, Class, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => DnsRecordType.Srv;
}

/// <summary>A record of a type this codec does not interpret; its RDATA is kept verbatim.</summary>
/// <param name="Name">Owner name.</param>
/// <param name="Class">Class.</param>
/// <param name="Ttl">Time to live in seconds.</param>
/// <param name="RawType">The numeric type.</param>
/// <param name="Data">The RDATA bytes (names inside are not decompressed).</param>
public sealed record UnknownDnsRecord(string Name, ushort Class, uint Ttl, ushort RawType, byte[] Data) : DnsRecord(Name, Class, Ttl)
{
    /// <inheritdoc />
    public override DnsRecordType Type => (DnsRecordType)RawType;
}
