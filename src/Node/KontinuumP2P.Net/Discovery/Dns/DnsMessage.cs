namespace KontinuumP2P.Net.Discovery.Dns;

/// <summary>DNS response codes used here (RFC 1035 §4.1.1).</summary>
public enum DnsResponseCode
{
    /// <summary>No error.</summary>
    NoError = 0,
    /// <summary>The server could not parse the query.</summary>
    FormatError = 1,
    /// <summary>The server failed.</summary>
    ServerFailure = 2,
    /// <summary>The name does not exist.</summary>
    NameError = 3,
    /// <summary>Not implemented.</summary>
    NotImplemented = 4,
    /// <summary>Refused.</summary>
    Refused = 5,
}

/// <summary>A decoded or to-be-encoded DNS message (RFC 1035 §4).</summary>
/// <param name="Id">Transaction id (0 in mDNS).</param>
/// <param name="Flags">The 16-bit flags word: QR, opcode, AA, TC, RD, RA, Z, RCODE.</param>
/// <param name="Questions">Question section.</param>
/// <param name="Answers">Answer section.</param>
/// <param name="Authorities">Authority section.</param>
/// <param name="Additionals">Additional section.</param>
public sealed record DnsMessage(
    ushort Id,
    ushort Flags,
    IReadOnlyList<DnsQuestion> Questions,
    IReadOnlyList<DnsRecord> Answers,
    IReadOnlyList<DnsRecord> Authorities,
    IReadOnlyList<DnsRecord> Additionals)
{
    /// <summary>QR: the message is a response.</summary>
    public const ushort ResponseFlag = 0x8000;
    /// <summary>AA: authoritative answer (always set in mDNS responses).</summary>
    public const ushort AuthoritativeFlag = 0x0400;
    /// <summary>TC: the message was truncated.</summary>
    public const ushort TruncatedFlag = 0x0200;
    /// <summary>RD: recursion desired.</summary>
    public const ushort RecursionDesiredFlag = 0x0100;

    /// <summary>True for responses (QR set).</summary>
    public bool IsResponse => (Flags & ResponseFlag) != 0;

    /// <summary>True when the TC bit is set.</summary>
    public bool IsTruncated => (Flags & TruncatedFlag) != 0;

    /// <summary>The 4-bit opcode (0 = standard query).</summary>
    public int Opcode => (Flags >> 11) & 0xF;

    /// <summary>The 4-bit response code.</summary>
    public DnsResponseCode ResponseCode => (DnsResponseCode)(Flags & 0xF);

    /// <summary>A query with one question.</summary>
    public static DnsMessage Query(ushort id, ushort flags, DnsQuestion question, IReadOnlyList<DnsRecord>? additionals = null) =>
        new(id, flags, [question], [], [], additionals ?? []);
}
