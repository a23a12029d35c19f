using Google.Protobuf;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Protos;

namespace KontinuumP2P.Certs.Certificates;

/// <summary>
/// The canonical certificate body encoding (fields of <c>CertificateBodyProto</c> in field order, defaults omitted,
/// capabilities sorted by ordinal and distinct). Decoding accepts only that exact form, so one body has one encoding.
/// </summary>
public static class CertificateCodec
{
    /// <summary>Largest accepted body.</summary>
    public const int MaxBodyLength = 4096;

    /// <summary>The canonical bytes of a validated body.</summary>
    /// <exception cref="TrustFormatException">The body is invalid.</exception>
    public static byte[] Encode(CertificateBody body)
    {
        body.Validate();
        var w = new CanonicalWriter();
        w.Bytes(1, body.NodeId.Span);
        w.Bytes(2, body.NodePublicKey.Span);
        w.Varint(3, (ulong)body.Tier);
        w.Varint(4, (ulong)body.Tenancy);
        w.String(5, body.Operator);
        w.Bytes(6, body.ServedIdentity.Span);
        foreach (var c in Canonical(body.Capabilities)) w.String(7, c);
        w.Message(8, m =>
        {
            m.Varint(1, body.Capacity.StorageBytes);
            m.Varint(2, body.Capacity.Sessions);
        });
        w.String(9, body.Provider);
        w.String(10, body.GeoZone);
        w.Signed(11, body.IssuedAt.ToUnixTimeSeconds());
        w.Signed(12, body.ValidUntil.ToUnixTimeSeconds());
        w.Varint(13, body.Serial);
        return w.ToArray();
    }

    /// <summary>Parses canonical body bytes.</summary>
    /// <exception cref="TrustFormatException">The bytes are not a canonical, valid body; the message says why.</exception>
    public static CertificateBody Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxBodyLength) throw new TrustFormatException($"certificate body is {bytes.Length} bytes, over {MaxBodyLength}");
        CertificateBodyProto p;
        try
        {
            p = CertificateBodyProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TrustFormatException($"certificate body is not valid protobuf: {e.Message}", e);
        }
        var body = new CertificateBody
        {
            NodeId = p.NodeId.ToByteArray(),
            NodePublicKey = p.NodePubkey.ToByteArray(),
            Tier = p.Tier > 2 ? int.MaxValue : (int)p.Tier,
            Tenancy = (Tenancy)p.Tenancy,
            Operator = p.Operator,
            ServedIdentity = p.ServedIdentity.ToByteArray(),
            Capabilities = [.. p.Capabilities],
            Capacity = new NodeCapacity(p.Capacity?.StorageBytes ?? 0, p.Capacity?.Sessions ?? 0),
            Provider = p.Provider,
            GeoZone = p.GeoZone,
            IssuedAt = UnixTime.FromSeconds(p.IssuedAt, "issued_at"),
            ValidUntil = UnixTime.FromSeconds(p.ValidUntil, "valid_until"),
            Serial = p.Serial,
        };
        var canonical = Encode(body);
        if (!canonical.AsSpan().SequenceEqual(bytes))
            throw new TrustFormatException("certificate body is not in canonical form (field order, defaults, sorted capabilities)");
        return body;
    }

    internal static IEnumerable<string> Canonical(IEnumerable<string> capabilities) =>
        capabilities.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
}
