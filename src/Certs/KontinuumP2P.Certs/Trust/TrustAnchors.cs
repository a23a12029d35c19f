using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;

namespace KontinuumP2P.Certs.Trust;

/// <summary>
/// The anchors a node trusts now: the current set, the previous set while a rotation's overlap window lasts, and the
/// anchor keys revoked for compromise. Immutable — applying a transition or a revocation returns a new instance — and
/// safe to share between threads. The anchor keys are decoded once, so verification is only the signature checks.
/// </summary>
public sealed class TrustAnchors
{
    private readonly AnchorKeyring _current;
    private readonly AnchorKeyring? _previous;
    private readonly TimeProvider _time;
    private readonly VerifiedSignatureCache? _cache;

    private TrustAnchors(AnchorSet current, AnchorSet? previous, DateTimeOffset previousUntil, IReadOnlySet<string> revoked,
        TimeProvider time, VerifiedSignatureCache? cache)
    {
        _cache = cache;
        _current = new AnchorKeyring(current, revoked, cache);
        _previous = previous is null ? null : new AnchorKeyring(previous, revoked, cache);
        PreviousAcceptedUntil = previous is null ? null : previousUntil;
        RevokedAnchorKeys = revoked;
        _time = time;
    }

    /// <summary>Trust in a single set (genesis or compiled anchors).</summary>
    /// <param name="set">The anchors.</param>
    /// <param name="time">The clock for validity windows and overlap.</param>
    /// <param name="cacheVerifiedSignatures">
    /// Remember signatures that verified (bounded, by SHA-256 of key, signature and message), so documents seen again
    /// skip the Ed25519 work; thresholds, revocation and time are still checked every call.
    /// </param>
    public static TrustAnchors Create(AnchorSet set, TimeProvider time, bool cacheVerifiedSignatures = true) =>
        new(set, null, default, new HashSet<string>(StringComparer.Ordinal), time, cacheVerifiedSignatures ? new VerifiedSignatureCache() : null);

    /// <summary>The current anchor set.</summary>
    public AnchorSet Current => _current.Set;

    /// <summary>The replaced set, still accepted until <see cref="PreviousAcceptedUntil"/>; null outside an overlap.</summary>
    public AnchorSet? Previous => _previous?.Set;

    /// <summary>End of the overlap window (exclusive).</summary>
    public DateTimeOffset? PreviousAcceptedUntil { get; }

    /// <summary>Anchor keys (hex) revoked for compromise; they never count again.</summary>
    public IReadOnlySet<string> RevokedAnchorKeys { get; }

    /// <summary>Anchors of the current set that are not revoked.</summary>
    public int ActiveAnchorCount => _current.ActiveCount;

    /// <summary>The clock used when no time is passed.</summary>
    public TimeProvider Time => _time;

    /// <summary>Verifies a certificate against the injected clock.</summary>
    public CertificateVerification VerifyCertificate(Certificate certificate, IRevocationSource? revocations = null) =>
        VerifyCertificate(certificate, _time.GetUtcNow(), revocations);

    /// <summary>
    /// Verifies a certificate at <paramref name="now"/>: at least the certificate threshold of valid signatures from
    /// distinct, non-revoked anchors of the current set (or of the previous set inside the overlap window), issued_at ≤
    /// now &lt; valid_until, and not on the CRL when <paramref name="revocations"/> is given.
    /// </summary>
    public CertificateVerification VerifyCertificate(Certificate certificate, DateTimeOffset now, IRevocationSource? revocations = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var required = _current.Set.CertThreshold;
        var valid = _current.CountValid(certificate.Document, required);
        var version = _current.Set.Version;
        if (valid < required && InOverlap(now))
        {
            var previousValid = _previous!.CountValid(certificate.Document, _previous.Set.CertThreshold);
            if (previousValid >= _previous.Set.CertThreshold)
            {
                (valid, required, version) = (previousValid, _previous.Set.CertThreshold, _previous.Set.Version);
            }
        }
        CertificateStatus status;
        if (valid < required) status = CertificateStatus.InsufficientSignatures;
        else if (now < certificate.Body.IssuedAt) status = CertificateStatus.NotYetValid;
        else if (now >= certificate.Body.ValidUntil) status = CertificateStatus.Expired;
        else if (revocations is not null && revocations.IsRevoked(certificate.Body.NodeId.Span)) status = CertificateStatus.Revoked;
        else status = CertificateStatus.Valid;
        return new CertificateVerification(status, valid, required, version);
    }

    /// <summary>
    /// Whether <paramref name="document"/> carries the threshold of <paramref name="kind"/> (certificate, CRL or config)
    /// from distinct active anchors of the current set, or of the previous set inside the overlap window.
    /// </summary>
    public bool MeetsThreshold(SignedDocument document, ThresholdKind kind, DateTimeOffset now) =>
        Count(_current, document, kind, null) >= Threshold(_current.Set, kind)
        || (InOverlap(now) && Count(_previous!, document, kind, null) >= Threshold(_previous!.Set, kind));

    /// <summary>Whether <paramref name="publicKey"/> is an active anchor of the current set.</summary>
    public bool IsActiveAnchor(ReadOnlySpan<byte> publicKey) => _current.IsActive(publicKey);

    /// <summary>
    /// Applies a transition to version N+1: accepted only when signed by the rotation threshold of the current set
    /// AND of the new set, and bound to the current set's hash. The current set stays accepted until overlap_until.
    /// </summary>
    public TransitionResult ApplyTransition(AnchorTransition transition)
    {
        ArgumentNullException.ThrowIfNull(transition);
        var next = transition.Body.NewSet;
        if (next.Version != Current.Version + 1)
            return Refuse(TransitionStatus.VersionNotNext, $"transition is to version {next.Version}, but the current version is {Current.Version}");
        if (!transition.Body.PreviousSetHash.Span.SequenceEqual(Current.Hash()))
            return Refuse(TransitionStatus.WrongPredecessor, $"transition to version {next.Version} does not name the current set {Current.Version}");
        var revokedInNew = next.Anchors.FirstOrDefault(a => RevokedAnchorKeys.Contains(a.PublicKeyHex));
        if (revokedInNew is not null)
            return Refuse(TransitionStatus.RevokedKeyInNewSet, $"new set contains revoked anchor {revokedInNew.KeyId}");
        var oldValid = _current.CountValid(transition.Document, Current.RotationThreshold);
        if (oldValid < Current.RotationThreshold)
            return Refuse(TransitionStatus.OldThresholdNotMet, $"{oldValid} of {Current.RotationThreshold} required signatures from the current anchors");
        var nextRing = new AnchorKeyring(next, RevokedAnchorKeys, _cache);
        var newValid = nextRing.CountValid(transition.Document, next.RotationThreshold);
        if (newValid < next.RotationThreshold)
            return Refuse(TransitionStatus.NewThresholdNotMet, $"{newValid} of {next.RotationThreshold} required signatures from the new anchors");
        var applied = new TrustAnchors(next, Current, transition.Body.OverlapUntil, RevokedAnchorKeys, _time, _cache);
        return new TransitionResult(TransitionStatus.Applied, applied, $"anchor set {Current.Version} → {next.Version}, overlap until {transition.Body.OverlapUntil:O}");
    }

    /// <summary>Applies transitions in order (catch-up after a long absence); stops at the first refusal.</summary>
    public TransitionResult ApplyTransitions(IEnumerable<AnchorTransition> transitions)
    {
        var result = new TransitionResult(TransitionStatus.Applied, this, $"anchor set {Current.Version}, nothing to apply");
        foreach (var t in transitions)
        {
            result = result.Anchors.ApplyTransition(t);
            if (!result.IsApplied) return result;
        }
        return result;
    }

    /// <summary>A copy in which <paramref name="publicKeysHex"/> are revoked (done by <see cref="CrlTracker"/> after checks).</summary>
    internal TrustAnchors WithRevokedAnchors(IEnumerable<string> publicKeysHex)
    {
        var revoked = new HashSet<string>(RevokedAnchorKeys, StringComparer.Ordinal);
        revoked.UnionWith(publicKeysHex);
        return new TrustAnchors(Current, Previous, PreviousAcceptedUntil ?? default, revoked, _time, _cache);
    }

    /// <summary>Counts distinct valid current-set anchors, skipping keys matched by <paramref name="exclude"/>.</summary>
    internal int CountCurrent(SignedDocument document, int enough, Func<ReadOnlyMemory<byte>, bool>? exclude) =>
        _current.CountValid(document, enough, exclude);

    private bool InOverlap(DateTimeOffset now) => _previous is not null && now < PreviousAcceptedUntil;

    private static int Count(AnchorKeyring ring, SignedDocument document, ThresholdKind kind, Func<ReadOnlyMemory<byte>, bool>? exclude) =>
        ring.CountValid(document, Threshold(ring.Set, kind), exclude);

    private static int Threshold(AnchorSet set, ThresholdKind kind) => kind switch
    {
        ThresholdKind.Certificate => set.CertThreshold,
        ThresholdKind.Crl => set.CrlThreshold,
        ThresholdKind.Config => set.ConfigThreshold,
        ThresholdKind.Rotation => set.RotationThreshold,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown threshold kind"),
    };

    private TransitionResult Refuse(TransitionStatus status, string detail) => new(status, this, detail);
}

/// <summary>Which of an anchor set's thresholds applies.</summary>
public enum ThresholdKind
{
    /// <summary>Certificate issuance.</summary>
    Certificate,

    /// <summary>CRL updates.</summary>
    Crl,

    /// <summary>Routine config.</summary>
    Config,

    /// <summary>Anchor-set transitions (the larger of certificate and CRL).</summary>
    Rotation,
}
