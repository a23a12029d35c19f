using Google.Protobuf;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Protos;

namespace KontinuumP2P.Certs.Revocation;

/// <summary>Why something was revoked.</summary>
public enum RevocationReason
{
    /// <summary>No reason given.</summary>
    Unspecified = 0,

    /// <summary>The key was compromised.</summary>
    KeyCompromise = 1,

    /// <summary>The subscription lapsed.</summary>
    SubscriptionLapsed = 2,

    /// <summary>Fraud or abuse.</summary>
    Abuse = 3,

    /// <summary>Replaced by a newer certificate or key.</summary>
    Superseded = 4,

    /// <summary>The node was decommissioned.</summary>
    Decommissioned = 5,
}

/// <summary>A revoked node.</summary>
/// <param name="NodeId">PeerId multihash bytes.</param>
/// <param name="Reason">Why.</param>
/// <param name="RevokedAt">When.</param>
public sealed record RevokedNode(ReadOnlyMemory<byte> NodeId, RevocationReason Reason, DateTimeOffset RevokedAt);

/// <summary>A revoked Tier 0 anchor key.</summary>
/// <param name="PublicKey">Raw 32-byte key.</param>
/// <param name="Reason">Why.</param>
/// <param name="RevokedAt">When.</param>
public sealed record RevokedAnchor(ReadOnlyMemory<byte> PublicKey, RevocationReason Reason, DateTimeOffset RevokedAt);

/// <summary>
/// The signed part of a CRL. Each CRL is complete (it lists everything revoked so far). Canonical order: nodes sorted
/// by id, anchors by key; an id or key listed twice is refused.
/// </summary>
/// <param name="CrlNumber">Strictly increasing number.</param>
/// <param name="IssuedAt">When it was made.</param>
/// <param name="NextUpdate">When a newer one is due; after it the CRL is stale.</param>
/// <param name="RevokedNodes">Revoked node ids.</param>
/// <param name="RevokedAnchors">Revoked anchor keys.</param>
/// <param name="AnchorSetVersion">The anchor set version it was signed under (informative).</param>
public sealed record CrlBody(ulong CrlNumber, DateTimeOffset IssuedAt, DateTimeOffset NextUpdate,
    IReadOnlyList<RevokedNode> RevokedNodes, IReadOnlyList<RevokedAnchor> RevokedAnchors, ulong AnchorSetVersion)
{
    /// <summary>Largest accepted body (about 20,000 revoked nodes).</summary>
    public const int MaxBodyLength = 1024 * 1024;

    /// <summary>The canonical bytes.</summary>
    /// <exception cref="TrustFormatException">Invalid field values.</exception>
    public byte[] Encode()
    {
        if (CrlNumber == 0) throw new TrustFormatException("crl_number must be at least 1");
        if (NextUpdate <= IssuedAt) throw new TrustFormatException($"next_update {NextUpdate:O} is not after issued_at {IssuedAt:O}");
        var nodes = RevokedNodes.OrderBy(n => n.NodeId.ToArray(), ByteOrder.Instance).ToList();
        var anchors = RevokedAnchors.OrderBy(a => a.PublicKey.ToArray(), ByteOrder.Instance).ToList();
        for (var i = 0; i < nodes.Count; i++)
        {
            if (nodes[i].NodeId.Length is 0 or > 128) throw new TrustFormatException($"revoked node id is {nodes[i].NodeId.Length} bytes (1..128)");
            if (i > 0 && nodes[i].NodeId.Span.SequenceEqual(nodes[i - 1].NodeId.Span))
                throw new TrustFormatException($"node {Convert.ToHexStringLower(nodes[i].NodeId.Span)} is listed twice");
        }
        for (var i = 0; i < anchors.Count; i++)
        {
            if (anchors[i].PublicKey.Length != 32) throw new TrustFormatException("revoked anchor key is not 32 bytes");
            if (i > 0 && anchors[i].PublicKey.Span.SequenceEqual(anchors[i - 1].PublicKey.Span))
                throw new TrustFormatException("an anchor key is listed twice");
        }
        var w = new CanonicalWriter();
        w.Varint(1, CrlNumber);
        w.Signed(2, IssuedAt.ToUnixTimeSeconds());
        w.Signed(3, NextUpdate.ToUnixTimeSeconds());
        foreach (var n in nodes)
        {
            w.Message(4, m =>
            {
                m.Bytes(1, n.NodeId.Span);
                m.Varint(2, (ulong)n.Reason);
                m.Signed(3, n.RevokedAt.ToUnixTimeSeconds());
            }, always: true);
        }
        foreach (var a in anchors)
        {
            w.Message(5, m =>
            {
                m.Bytes(1, a.PublicKey.Span);
                m.Varint(2, (ulong)a.Reason);
                m.Signed(3, a.RevokedAt.ToUnixTimeSeconds());
            }, always: true);
        }
        w.Varint(6, AnchorSetVersion);
        return w.ToArray();
    }

    /// <summary>Parses canonical bytes.</summary>
    /// <exception cref="TrustFormatException">Malformed or non-canonical.</exception>
    public static CrlBody Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxBodyLength) throw new TrustFormatException($"CRL body is {bytes.Length} bytes, over {MaxBodyLength}");
        CrlBodyProto p;
        try
        {
            p = CrlBodyProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TrustFormatException($"CRL body is not valid protobuf: {e.Message}", e);
        }
        var body = new CrlBody(p.CrlNumber, UnixTime.FromSeconds(p.IssuedAt, "issued_at"), UnixTime.FromSeconds(p.NextUpdate, "next_update"),
            [.. p.RevokedNodes.Select(n => new RevokedNode(n.NodeId.ToByteArray(), Reason(n.Reason), UnixTime.FromSeconds(n.RevokedAt, "revoked_at")))],
            [.. p.RevokedAnchors.Select(a => new RevokedAnchor(a.PublicKey.ToByteArray(), Reason(a.Reason), UnixTime.FromSeconds(a.RevokedAt, "revoked_at")))],
            p.AnchorSetVersion);
        if (!body.Encode().AsSpan().SequenceEqual(bytes)) throw new TrustFormatException("CRL body is not in canonical form (field order, sorting)");
        return body;
    }

    private static RevocationReason Reason(uint value) =>
        Enum.IsDefined((RevocationReason)value) ? (RevocationReason)value : throw new TrustFormatException($"unknown revocation reason {value}");

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
