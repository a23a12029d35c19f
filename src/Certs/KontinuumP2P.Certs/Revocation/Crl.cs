using KontinuumP2P.Certs.Encoding;

namespace KontinuumP2P.Certs.Revocation;

/// <summary>A certificate revocation list: its body and anchor signatures over <c>"kontinuum-crl-v1\0" || body</c>.</summary>
public sealed record Crl
{
    /// <summary>Largest accepted encoding (within the 4 MiB kad message limit).</summary>
    public const int MaxEncodedLength = CrlBody.MaxBodyLength + 8192;

    private Crl(CrlBody body, SignedDocument document)
    {
        Body = body;
        Document = document;
    }

    /// <summary>The body.</summary>
    public CrlBody Body { get; }

    /// <summary>The signed envelope.</summary>
    public SignedDocument Document { get; }

    /// <summary>A CRL (a draft when no signatures are given).</summary>
    public static Crl Create(CrlBody body, IReadOnlyList<SignatureEntry>? signatures = null) =>
        new(body, new SignedDocument(DocumentKind.Crl, body.Encode(), signatures ?? []));

    /// <summary>Wraps a decoded envelope.</summary>
    /// <exception cref="TrustFormatException">Not a CRL, or malformed body.</exception>
    public static Crl FromDocument(SignedDocument document)
    {
        if (document.Kind != DocumentKind.Crl)
            throw new TrustFormatException($"document is a {SignedDocument.Describe(document.Kind)}, expected a CRL");
        return new Crl(CrlBody.Decode(document.Body.Span), document);
    }

    /// <summary>Parses wire bytes.</summary>
    /// <exception cref="TrustFormatException">Malformed.</exception>
    public static Crl Decode(ReadOnlySpan<byte> bytes) => FromDocument(SignedDocument.Decode(bytes, DocumentKind.Crl, MaxEncodedLength));

    /// <summary>The wire bytes.</summary>
    public byte[] Encode() => Document.Encode();

    /// <summary>A copy with more signatures.</summary>
    public Crl WithSignatures(IEnumerable<SignatureEntry> extra) => new(Body, Document.WithSignatures(extra));
}

/// <summary>Answers whether a node id is revoked (implemented by <see cref="CrlTracker"/>).</summary>
public interface IRevocationSource
{
    /// <summary>Whether <paramref name="nodeId"/> is on the accepted CRL.</summary>
    bool IsRevoked(ReadOnlySpan<byte> nodeId);
}
