using Google.Protobuf;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Protos;

namespace KontinuumP2P.Certs.Trust;

/// <summary>The signed part of a rotation: the next anchor set, bound to the hash of the one it replaces.</summary>
/// <param name="NewSet">The set taking over (version = previous + 1).</param>
/// <param name="PreviousSetHash">SHA-256 of the previous set's canonical encoding.</param>
/// <param name="IssuedAt">When the transition was made.</param>
/// <param name="OverlapUntil">Until when documents signed under the previous set are still accepted.</param>
public sealed record TransitionBody(AnchorSet NewSet, ReadOnlyMemory<byte> PreviousSetHash, DateTimeOffset IssuedAt, DateTimeOffset OverlapUntil)
{
    /// <summary>Longest overlap accepted (the seed asks for about 3 to 6 months).</summary>
    public static readonly TimeSpan MaxOverlap = TimeSpan.FromDays(183);

    /// <summary>The default overlap: 90 days.</summary>
    public static readonly TimeSpan DefaultOverlap = TimeSpan.FromDays(90);

    /// <summary>The canonical bytes.</summary>
    /// <exception cref="TrustFormatException">The overlap is negative, too long, or the hash is not 32 bytes.</exception>
    public byte[] Encode()
    {
        if (PreviousSetHash.Length != 32) throw new TrustFormatException($"previous_set_hash is {PreviousSetHash.Length} bytes, expected 32");
        if (OverlapUntil < IssuedAt || OverlapUntil - IssuedAt > MaxOverlap)
            throw new TrustFormatException($"overlap window {OverlapUntil - IssuedAt} is outside 0..{MaxOverlap.TotalDays} days");
        var w = new CanonicalWriter();
        w.Message(1, NewSet.Write, always: true);
        w.Bytes(2, PreviousSetHash.Span);
        w.Signed(3, IssuedAt.ToUnixTimeSeconds());
        w.Signed(4, OverlapUntil.ToUnixTimeSeconds());
        return w.ToArray();
    }

    /// <summary>Parses canonical bytes.</summary>
    /// <exception cref="TrustFormatException">Malformed or non-canonical.</exception>
    /// <exception cref="TrustConfigurationException">The new set is unusable.</exception>
    public static TransitionBody Decode(ReadOnlySpan<byte> bytes)
    {
        TransitionBodyProto p;
        try
        {
            p = TransitionBodyProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TrustFormatException($"transition body is not valid protobuf: {e.Message}", e);
        }
        if (p.NewSet is null) throw new TrustFormatException("transition has no new anchor set");
        var body = new TransitionBody(AnchorSet.FromProto(p.NewSet), p.PreviousSetHash.ToByteArray(),
            UnixTime.FromSeconds(p.IssuedAt, "issued_at"), UnixTime.FromSeconds(p.OverlapUntil, "overlap_until"));
        if (!body.Encode().AsSpan().SequenceEqual(bytes)) throw new TrustFormatException("transition body is not in canonical form");
        return body;
    }
}

/// <summary>A transition document: its body and the signatures of the old and the new anchors.</summary>
public sealed record AnchorTransition
{
    /// <summary>Largest accepted encoding.</summary>
    public const int MaxEncodedLength = 64 * 1024;

    private AnchorTransition(TransitionBody body, SignedDocument document)
    {
        Body = body;
        Document = document;
    }

    /// <summary>The body.</summary>
    public TransitionBody Body { get; }

    /// <summary>The signed envelope.</summary>
    public SignedDocument Document { get; }

    /// <summary>A transition (unsigned draft when no signatures are given).</summary>
    public static AnchorTransition Create(TransitionBody body, IReadOnlyList<SignatureEntry>? signatures = null) =>
        new(body, new SignedDocument(DocumentKind.Transition, body.Encode(), signatures ?? []));

    /// <summary>The draft moving <paramref name="current"/> to <paramref name="next"/>.</summary>
    public static AnchorTransition Draft(AnchorSet current, AnchorSet next, DateTimeOffset issuedAt, TimeSpan overlap)
    {
        issuedAt = UnixTime.Truncate(issuedAt);
        return Create(new TransitionBody(next, current.Hash(), issuedAt, issuedAt + overlap));
    }

    /// <summary>Wraps a decoded envelope.</summary>
    /// <exception cref="TrustFormatException">Not a transition, or malformed body.</exception>
    public static AnchorTransition FromDocument(SignedDocument document)
    {
        if (document.Kind != DocumentKind.Transition)
            throw new TrustFormatException($"document is a {SignedDocument.Describe(document.Kind)}, expected an anchor transition");
        return new AnchorTransition(TransitionBody.Decode(document.Body.Span), document);
    }

    /// <summary>Parses wire bytes.</summary>
    /// <exception cref="TrustFormatException">Malformed.</exception>
    public static AnchorTransition Decode(ReadOnlySpan<byte> bytes) =>
        FromDocument(SignedDocument.Decode(bytes, DocumentKind.Transition, MaxEncodedLength));

    /// <summary>The wire bytes.</summary>
    public byte[] Encode() => Document.Encode();

    /// <summary>A copy with more signatures.</summary>
    public AnchorTransition WithSignatures(IEnumerable<SignatureEntry> extra) => new(Body, Document.WithSignatures(extra));
}
