using KontinuumP2P.Certs.Encoding;

namespace KontinuumP2P.Certs.Certificates;

/// <summary>A node certificate: a body and the anchor signatures over <c>"kontinuum-cert-v1\0" || body</c>.</summary>
public sealed record Certificate
{
    /// <summary>Largest accepted encoded certificate (a DHT node record is at most 8 KiB).</summary>
    public const int MaxEncodedLength = 8192;

    private Certificate(CertificateBody body, SignedDocument document)
    {
        Body = body;
        Document = document;
    }

    /// <summary>The decoded body.</summary>
    public CertificateBody Body { get; }

    /// <summary>The signed envelope (canonical body bytes, signatures, signed message).</summary>
    public SignedDocument Document { get; }

    /// <summary>The signatures.</summary>
    public IReadOnlyList<SignatureEntry> Signatures => Document.Signatures;

    /// <summary>A certificate for <paramref name="body"/> with the given signatures (none for a draft).</summary>
    public static Certificate Create(CertificateBody body, IReadOnlyList<SignatureEntry>? signatures = null) =>
        new(body, new SignedDocument(DocumentKind.Certificate, CertificateCodec.Encode(body), signatures ?? []));

    /// <summary>Wraps a decoded envelope.</summary>
    /// <exception cref="TrustFormatException">The envelope is not a certificate or its body is malformed.</exception>
    public static Certificate FromDocument(SignedDocument document)
    {
        if (document.Kind != DocumentKind.Certificate)
            throw new TrustFormatException($"document is a {SignedDocument.Describe(document.Kind)}, expected a certificate");
        return new Certificate(CertificateCodec.Decode(document.Body.Span), document);
    }

    /// <summary>Parses wire bytes (size-checked before parsing).</summary>
    /// <exception cref="TrustFormatException">The bytes are not a well-formed certificate.</exception>
    public static Certificate Decode(ReadOnlySpan<byte> bytes) =>
        FromDocument(SignedDocument.Decode(bytes, DocumentKind.Certificate, MaxEncodedLength));

    /// <summary>The wire bytes.</summary>
    public byte[] Encode() => Document.Encode();

    /// <summary>A copy with more signatures.</summary>
    public Certificate WithSignatures(IEnumerable<SignatureEntry> extra) => new(Body, Document.WithSignatures(extra));
}
