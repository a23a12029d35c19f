namespace KontinuumP2P.Certs.Trust;

/// <summary>Why a certificate was accepted or refused.</summary>
public enum CertificateStatus
{
    /// <summary>Enough distinct anchor signatures, inside its validity window, not revoked.</summary>
    Valid,

    /// <summary>Fewer valid signatures from distinct, active anchors than the certificate threshold.</summary>
    InsufficientSignatures,

    /// <summary>The clock is before <c>issued_at</c>.</summary>
    NotYetValid,

    /// <summary>The clock is at or after <c>valid_until</c>.</summary>
    Expired,

    /// <summary>The node id is on the accepted CRL.</summary>
    Revoked,
}

/// <summary>The outcome of verifying a certificate.</summary>
/// <param name="Status">Accepted, or why not.</param>
/// <param name="ValidSignatures">Distinct anchors with a valid signature (counting stops at the threshold).</param>
/// <param name="RequiredSignatures">The threshold applied.</param>
/// <param name="AnchorSetVersion">The anchor set the signatures were counted against.</param>
public readonly record struct CertificateVerification(CertificateStatus Status, int ValidSignatures, int RequiredSignatures, ulong AnchorSetVersion)
{
    /// <summary>Whether the certificate is accepted.</summary>
    public bool IsValid => Status == CertificateStatus.Valid;
}

/// <summary>Why a transition was applied or refused.</summary>
public enum TransitionStatus
{
    /// <summary>Applied: the new set is current, the old one accepted until the overlap ends.</summary>
    Applied,

    /// <summary>The new set's version is not exactly the current version + 1.</summary>
    VersionNotNext,

    /// <summary>The transition names a different previous set (hash mismatch).</summary>
    WrongPredecessor,

    /// <summary>Too few distinct signatures from the current (old) anchors.</summary>
    OldThresholdNotMet,

    /// <summary>Too few distinct signatures from the new anchors.</summary>
    NewThresholdNotMet,

    /// <summary>The new set brings back a key revoked for compromise.</summary>
    RevokedKeyInNewSet,
}

/// <summary>The outcome of applying a transition.</summary>
/// <param name="Status">Applied, or why not.</param>
/// <param name="Anchors">The resulting trust (the unchanged one when refused).</param>
/// <param name="Detail">A sentence for logs and the CLI.</param>
public sealed record TransitionResult(TransitionStatus Status, TrustAnchors Anchors, string Detail)
{
    /// <summary>Whether it was applied.</summary>
    public bool IsApplied => Status == TransitionStatus.Applied;
}
