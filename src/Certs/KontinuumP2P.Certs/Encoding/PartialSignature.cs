using System.Security.Cryptography;
using Google.Protobuf;
using KontinuumP2P.Certs.Protos;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Certs.Encoding;

/// <summary>
/// One anchor operator's signature over a draft, passed to whoever assembles the multi-signed document. It names the
/// body by SHA-256 so a signature made for another draft is refused before any threshold is counted.
/// </summary>
/// <param name="Kind">The kind of document signed.</param>
/// <param name="BodyHash">SHA-256 of the canonical body.</param>
/// <param name="Signature">The anchor key and its signature.</param>
public sealed record PartialSignature(DocumentKind Kind, ReadOnlyMemory<byte> BodyHash, SignatureEntry Signature)
{
    /// <summary>Largest accepted encoding.</summary>
    public const int MaxLength = 512;

    /// <summary>Signs <paramref name="draft"/> with an anchor key.</summary>
    public static PartialSignature Create(SignedDocument draft, Ed25519Identity anchorKey)
    {
        var signature = anchorKey.Sign(draft.SignedMessage.Span);
        return new PartialSignature(draft.Kind, SHA256.HashData(draft.Body.Span), new SignatureEntry(anchorKey.PublicKey, signature));
    }

    /// <summary>Whether this partial is for <paramref name="draft"/> and its signature verifies.</summary>
    public bool IsValidFor(SignedDocument draft) =>
        draft.Kind == Kind
        && SHA256.HashData(draft.Body.Span).AsSpan().SequenceEqual(BodyHash.Span)
        && Ed25519Identity.Verify(Signature.PublicKey.Span, draft.SignedMessage.Span, Signature.Signature.Span);

    /// <summary>The protobuf wire bytes.</summary>
    public byte[] Encode() => new PartialSignatureProto
    {
        Kind = (uint)Kind,
        BodyHash = ByteString.CopyFrom(BodyHash.Span),
        Signature = new SignatureProto
        {
            PublicKey = ByteString.CopyFrom(Signature.PublicKey.Span),
            Signature = ByteString.CopyFrom(Signature.Signature.Span),
        },
    }.ToByteArray();

    /// <summary>Parses a partial signature.</summary>
    /// <exception cref="TrustFormatException">The bytes are not a well-formed partial signature.</exception>
    public static PartialSignature Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxLength) throw new TrustFormatException($"partial signature is {bytes.Length} bytes, over the {MaxLength}-byte limit");
        PartialSignatureProto proto;
        try
        {
            proto = PartialSignatureProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TrustFormatException($"not a partial-signature protobuf: {e.Message}", e);
        }
        if (!Enum.IsDefined((DocumentKind)proto.Kind)) throw new TrustFormatException($"partial signature has unknown document kind {proto.Kind}");
        if (proto.BodyHash.Length != 32) throw new TrustFormatException($"partial signature body hash is {proto.BodyHash.Length} bytes, expected 32");
        if (proto.Signature is null) throw new TrustFormatException("partial signature has no signature entry");
        if (proto.Signature.PublicKey.Length != 32) throw new TrustFormatException("partial signature public key is not 32 bytes");
        if (proto.Signature.Signature.Length != 64) throw new TrustFormatException("partial signature is not 64 bytes");
        return new PartialSignature((DocumentKind)proto.Kind, proto.BodyHash.ToByteArray(),
            new SignatureEntry(proto.Signature.PublicKey.ToByteArray(), proto.Signature.Signature.ToByteArray()));
    }
}
