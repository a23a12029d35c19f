using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;

namespace KontinuumP2P.Certs.Ceremony;

/// <summary>A document could not be assembled because its threshold is not reached; the message says how far it got.</summary>
public sealed class ThresholdNotMetException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ThresholdNotMetException(string message) : base(message)
    {
    }
}

/// <summary>
/// Collects operators' partial signatures into a multi-signed document, refusing partials made for another draft and
/// refusing to emit a document that the verification rules would not accept (certificate or CRL threshold; for a
/// transition, the old AND the new set's thresholds).
/// </summary>
public static class DocumentAssembler
{
    /// <summary>Assembles and checks <paramref name="draft"/> with <paramref name="partials"/>.</summary>
    /// <exception cref="TrustFormatException">A partial is not for this draft or does not verify.</exception>
    /// <exception cref="ThresholdNotMetException">Too few distinct valid anchor signatures.</exception>
    public static SignedDocument Assemble(SignedDocument draft, IEnumerable<PartialSignature> partials, TrustAnchors anchors)
    {
        var entries = new List<SignatureEntry>();
        foreach (var partial in partials)
        {
            if (!partial.IsValidFor(draft))
                throw new TrustFormatException($"partial signature by key {Anchor.KeyIdOf(partial.Signature.PublicKey.Span)} is not a valid signature of this draft");
            entries.Add(partial.Signature);
        }
        var document = draft.WithSignatures(entries);
        Check(document, anchors);
        return document;
    }

    /// <summary>Throws unless <paramref name="document"/> meets its threshold under <paramref name="anchors"/>.</summary>
    /// <exception cref="ThresholdNotMetException">It does not.</exception>
    public static void Check(SignedDocument document, TrustAnchors anchors)
    {
        switch (document.Kind)
        {
            case DocumentKind.Certificate:
                var cert = Certificate.FromDocument(document);
                var verification = anchors.VerifyCertificate(cert, cert.Body.IssuedAt);
                if (verification.Status == CertificateStatus.InsufficientSignatures)
                    throw new ThresholdNotMetException($"{verification.ValidSignatures} of {verification.RequiredSignatures} required certificate signatures");
                break;
            case DocumentKind.Crl:
                var tracker = new CrlTracker(anchors, new VolatileCrlStateStore(), anchors.Time);
                var acceptance = tracker.Accept(Crl.FromDocument(document));
                if (acceptance.Status is CrlAcceptanceStatus.InsufficientSignatures or CrlAcceptanceStatus.AnchorRevocationRefused)
                    throw new ThresholdNotMetException(acceptance.Detail);
                break;
            case DocumentKind.Transition:
                var result = anchors.ApplyTransition(AnchorTransition.FromDocument(document));
                if (!result.IsApplied) throw new ThresholdNotMetException($"{result.Status}: {result.Detail}");
                break;
            default:
                throw new TrustFormatException($"cannot assemble document kind {(int)document.Kind}");
        }
    }
}
