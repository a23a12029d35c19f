namespace KontinuumP2P.Node.Admission;

/// <summary>Bounds of <see cref="CertificateAdmission"/>: what it remembers about peers gone, and how often it judges again.</summary>
public sealed record AdmissionLimits
{
    /// <summary>Most verdicts remembered on peers no longer connected (least recently used forgotten first).</summary>
    public int MaxRememberedPeers { get; init; } = 4_096;

    /// <summary>How long a refusal is remembered after the peer left.</summary>
    public TimeSpan RememberRefused { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long an admission is remembered after the peer left (never past its certificate's expiry).</summary>
    public TimeSpan RememberAdmitted { get; init; } = TimeSpan.FromHours(6);

    /// <summary>
    /// How often every verdict is judged again, so that a certificate that expired, or an anchor overlap that ended,
    /// refuses its peer within this interval (kept below the DHT refresh interval). Zero turns the periodic re-judgement
    /// off (peers are then judged again only by <see cref="CertificateAdmission.Rejudge"/>, e.g. when a CRL arrives).
    /// </summary>
    public TimeSpan RejudgeInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Sustained certificate offers judged per peer per second (each costs signature checks).</summary>
    public double OffersPerPeerPerSecond { get; init; } = 0.2;

    /// <summary>
    /// Stale-CRL policy: once the CRL in force has been past its next_update (or, with none yet, the node has run without
    /// one) for longer than this, new certificates are refused (<c>crl-stale</c>) until a fresh CRL arrives: a node
    /// that cannot learn revocations does not admit peers it has never judged. Peers already admitted keep their
    /// verdict (they are still checked against the CRL in force). <see cref="Timeout.InfiniteTimeSpan"/> fails open.
    /// </summary>
    public TimeSpan MaxCrlStaleness { get; init; } = TimeSpan.FromDays(3);

    /// <summary>Offers a peer may push at once before <see cref="OffersPerPeerPerSecond"/> applies.</summary>
    public int OfferBurstPerPeer { get; init; } = 5;
}
