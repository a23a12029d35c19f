using Google.Protobuf;
using KontinuumP2P.Certs.Protos;

namespace KontinuumP2P.Certs.Encoding;

/// <summary>
/// The envelope every trust document travels in: its kind, the canonical body bytes and the signatures. A document
/// with no signatures is a draft that operators sign one by one (<see cref="PartialSignature"/>).
/// </summary>
public sealed record SignedDocument
{
    /// <summary>Most signatures a document may carry (anchor sets are far smaller; extra room for stray ones).</summary>
    public const int MaxSignatures = 64;

    /// <summary>Creates a document.</summary>
    public SignedDocument(DocumentKind kind, ReadOnlyMemory<byte> body, IReadOnlyList<SignatureEntry> signatures)
    {
        if (signatures.Count > MaxSignatures) throw new ArgumentException($"more than {MaxSignatures} signatures", nameof(signatures));
        Kind = kind;
        Body = body;
        Signatures = signatures;
        SignedMessage = DomainPrefix.SignedMessage(kind, body.Span);
    }

    /// <summary>The document kind.</summary>
    public DocumentKind Kind { get; }

    /// <summary>The canonical body bytes.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>The signatures, in the order received.</summary>
    public IReadOnlyList<SignatureEntry> Signatures { get; }

    /// <summary>The bytes each signature covers: the domain prefix then the body (computed once).</summary>
    public ReadOnlyMemory<byte> SignedMessage { get; }

    /// <summary>A copy with <paramref name="extra"/> appended (entries already present are not repeated).</summary>
    public SignedDocument WithSignatures(IEnumerable<SignatureEntry> extra)
    {
        var all = Signatures.ToList();
        foreach (var entry in extra)
        {
            var duplicate = all.Any(e => e.PublicKey.Span.SequenceEqual(entry.PublicKey.Span)
                && e.Signature.Span.SequenceEqual(entry.Signature.Span));
            if (!duplicate) all.Add(entry);
        }
        return new SignedDocument(Kind, Body, all);
    }

    /// <summary>The protobuf wire bytes.</summary>
    public byte[] Encode()
    {
        var proto = new SignedDocumentProto { Kind = (uint)Kind, Body = ByteString.CopyFrom(Body.Span) };
        foreach (var s in Signatures)
            proto.Signatures.Add(new SignatureProto { PublicKey = ByteString.CopyFrom(s.PublicKey.Span), Signature = ByteString.CopyFrom(s.Signature.Span) });
        return proto.ToByteArray();
    }

    /// <summary>Parses wire bytes, checking the size bound first and every signature's shape.</summary>
    /// <param name="bytes">The encoded document.</param>
    /// <param name="expected">The kind the caller needs, or null for any.</param>
    /// <param name="maxLength">Largest accepted encoding in bytes.</param>
    /// <exception cref="TrustFormatException">The bytes are not a well-formed document of the expected kind.</exception>
    public static SignedDocument Decode(ReadOnlySpan<byte> bytes, DocumentKind? expected, int maxLength)
    {
        if (bytes.Length > maxLength) throw new TrustFormatException($"document is {bytes.Length} bytes, over the {maxLength}-byte limit");
        if (bytes.IsEmpty) throw new TrustFormatException("document is empty");
        SignedDocumentProto proto;
        try
        {
            proto = SignedDocumentProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TrustFormatException($"document is not a valid signed-document protobuf: {e.Message}", e);
        }
        if (!Enum.IsDefined((DocumentKind)proto.Kind)) throw new TrustFormatException($"unknown document kind {proto.Kind}");
        var kind = (DocumentKind)proto.Kind;
        if (expected is { } want && kind != want) throw new TrustFormatException($"document is a {Describe(kind)}, expected a {Describe(want)}");
        if (proto.Body.IsEmpty) throw new TrustFormatException("document has an empty body");
        if (proto.Signatures.Count > MaxSignatures) throw new TrustFormatException($"document has {proto.Signatures.Count} signatures, over the limit of {MaxSignatures}");
        var signatures = new List<SignatureEntry>(proto.Signatures.Count);
        foreach (var s in proto.Signatures)
        {
            if (s.PublicKey.Length != SignatureEntry.PublicKeyLength)
                throw new TrustFormatException($"signature entry has a {s.PublicKey.Length}-byte public key, expected 32");
            if (s.Signature.Length != SignatureEntry.SignatureLength)
                throw new TrustFormatException($"signature entry has a {s.Signature.Length}-byte signature, expected 64");
            signatures.Add(new SignatureEntry(s.PublicKey.ToByteArray(), s.Signature.ToByteArray()));
        }
        return new SignedDocument(kind, proto.Body.ToByteArray(), signatures);
    }

    /// <summary>A human name for a kind, used in messages.</summary>
    public static string Describe(DocumentKind kind) => kind switch
    {
        DocumentKind.Certificate => "certificate",
        DocumentKind.Crl => "CRL",
        DocumentKind.Transition => "anchor transition",
        _ => $"kind {(int)kind}",
    };
}
