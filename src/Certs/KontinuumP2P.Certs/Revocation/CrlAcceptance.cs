namespace KontinuumP2P.Certs.Revocation;

/// <summary>What <see cref="CrlTracker.Accept"/> did with a CRL.</summary>
public enum CrlAcceptanceStatus
{
    /// <summary>Newer than the high-water mark, properly signed: now current and persisted.</summary>
    Accepted,

    /// <summary>The same CRL as the current one (same number, same body).</summary>
    AlreadyCurrent,

    /// <summary>Its number is below the persisted high-water mark.</summary>
    Rollback,

    /// <summary>Fewer valid signatures from distinct active anchors than the CRL threshold.</summary>
    InsufficientSignatures,

    /// <summary>Issued in the future (beyond the allowed clock skew).</summary>
    NotYetValid,

    /// <summary>It revokes anchors without every remaining anchor signing, or would leave fewer keys than a threshold.</summary>
    AnchorRevocationRefused,
}

/// <summary>The outcome of offering a CRL.</summary>
/// <param name="Status">What happened.</param>
/// <param name="CrlNumber">The offered CRL's number.</param>
/// <param name="HighWaterMark">The persisted highest number after the call.</param>
/// <param name="Stale">The now-current CRL is past its next_update.</param>
/// <param name="Detail">A sentence for logs and the CLI.</param>
public sealed record CrlAcceptance(CrlAcceptanceStatus Status, ulong CrlNumber, ulong HighWaterMark, bool Stale, string Detail)
{
    /// <summary>Whether the CRL is (now) the current one.</summary>
    public bool IsCurrent => Status is CrlAcceptanceStatus.Accepted or CrlAcceptanceStatus.AlreadyCurrent;
}

/// <summary>Two validly signed CRLs carry the same number but different contents: an anchor quorum equivocated.</summary>
public sealed class CrlEquivocationException : Exception
{
    /// <summary>Creates the alarm.</summary>
    public CrlEquivocationException(ulong crlNumber, string acceptedSha256, string offeredSha256)
        : base($"CRL equivocation: number {crlNumber} was accepted with body {acceptedSha256} and is now offered with body {offeredSha256}")
    {
        CrlNumber = crlNumber;
        AcceptedBodySha256 = acceptedSha256;
        OfferedBodySha256 = offeredSha256;
    }

    /// <summary>The number both CRLs carry.</summary>
    public ulong CrlNumber { get; }

    /// <summary>Body hash of the CRL accepted first.</summary>
    public string AcceptedBodySha256 { get; }

    /// <summary>Body hash of the conflicting one.</summary>
    public string OfferedBodySha256 { get; }
}
