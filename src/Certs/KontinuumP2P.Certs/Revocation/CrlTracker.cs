using System.Security.Cryptography;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Trust;

namespace KontinuumP2P.Certs.Revocation;

/// <summary>
/// Holds the current CRL of one network and its persisted high-water mark. CRL numbers strictly increase; a lower
/// number is refused even after a restart; the same number with a different body raises
/// <see cref="CrlEquivocationException"/>. A CRL that revokes anchor keys (compromise) must be signed by every remaining
/// anchor, and may not leave fewer keys than the largest threshold; the thresholds themselves stay (3-of-5 → 3-of-4).
/// Thread-safe.
/// </summary>
public sealed class CrlTracker : IRevocationSource
{
    /// <summary>Clock skew tolerated on issued_at.</summary>
    public static readonly TimeSpan AllowedSkew = TimeSpan.FromMinutes(5);

    private readonly Lock _lock = new();
    private readonly ICrlStateStore _store;
    private readonly TimeProvider _time;
    private TrustAnchors _anchors;
    private Crl? _current;
    private string? _currentHash;
    private HashSet<string> _revokedNodes = new(StringComparer.Ordinal);
    private readonly DateTimeOffset _createdAt;

    /// <summary>Loads the persisted state (the CRL stored there was verified when accepted).</summary>
    /// <exception cref="TrustFormatException">The stored state is corrupt.</exception>
    public CrlTracker(TrustAnchors anchors, ICrlStateStore store, TimeProvider time)
    {
        _anchors = anchors;
        _store = store;
        _time = time;
        _createdAt = time.GetUtcNow();
        var state = store.Load();
        if (state is not null)
        {
            var crl = Crl.Decode(state.EncodedCrl);
            if (crl.Body.CrlNumber != state.CrlNumber) throw new TrustFormatException("stored CRL number does not match the stored high-water mark");
            Install(crl, state.BodySha256);
        }
    }

    /// <summary>The trust after any anchor revocations carried by accepted CRLs.</summary>
    public TrustAnchors Anchors
    {
        get
        {
            lock (_lock) return _anchors;
        }
    }

    /// <summary>The current CRL, or null before the first one.</summary>
    public Crl? Current
    {
        get
        {
            lock (_lock) return _current;
        }
    }

    /// <summary>The persisted highest accepted number (0 before the first).</summary>
    public ulong HighWaterMark
    {
        get
        {
            lock (_lock) return _current?.Body.CrlNumber ?? 0;
        }
    }

    /// <summary>Whether the current CRL is past its next_update (or there is none): fetch a newer one.</summary>
    public bool IsStale
    {
        get
        {
            lock (_lock) return _current is null || _time.GetUtcNow() > _current.Body.NextUpdate;
        }
    }

    /// <summary>
    /// How long the revocation data has been stale: the time past the current CRL's next_update, or, before any CRL,
    /// since this tracker started; zero while fresh. Admission fails closed for new peers past a maximum.
    /// </summary>
    public TimeSpan StaleFor
    {
        get
        {
            lock (_lock)
            {
                var since = _current?.Body.NextUpdate ?? _createdAt;
                var stale = _time.GetUtcNow() - since;
                return stale > TimeSpan.Zero ? stale : TimeSpan.Zero;
            }
        }
    }

    /// <summary>Replaces the trust after a rotation; revocations already accepted carry over.</summary>
    public void UpdateAnchors(TrustAnchors anchors)
    {
        lock (_lock)
        {
            var revoked = _current?.Body.RevokedAnchors.Select(a => Convert.ToHexStringLower(a.PublicKey.Span)) ?? [];
            _anchors = anchors.WithRevokedAnchors(revoked);
        }
    }

    /// <inheritdoc />
    public bool IsRevoked(ReadOnlySpan<byte> nodeId)
    {
        var hex = Convert.ToHexStringLower(nodeId);
        lock (_lock) return _revokedNodes.Contains(hex);
    }

    /// <summary>The revocation entry for <paramref name="nodeId"/>, or null.</summary>
    public RevokedNode? Find(ReadOnlySpan<byte> nodeId)
    {
        var id = nodeId.ToArray();
        lock (_lock) return _current?.Body.RevokedNodes.FirstOrDefault(n => n.NodeId.Span.SequenceEqual(id));
    }

    /// <summary>Checks and, when newer, persists and installs <paramref name="crl"/>.</summary>
    /// <exception cref="CrlEquivocationException">A validly signed CRL with the accepted number but a different body.</exception>
    public CrlAcceptance Accept(Crl crl)
    {
        ArgumentNullException.ThrowIfNull(crl);
        var now = _time.GetUtcNow();
        var number = crl.Body.CrlNumber;
        var hash = Convert.ToHexStringLower(SHA256.HashData(crl.Document.Body.Span));
        lock (_lock)
        {
            var high = _current?.Body.CrlNumber ?? 0;
            if (number < high) return Result(CrlAcceptanceStatus.Rollback, number, $"CRL {number} is older than the accepted CRL {high}");
            var refusal = CheckSignatures(crl);
            if (refusal is not null) return refusal;
            if (number == high)
            {
                if (hash != _currentHash) throw new CrlEquivocationException(number, _currentHash!, hash);
                return Result(CrlAcceptanceStatus.AlreadyCurrent, number, $"CRL {number} is already current");
            }
            if (crl.Body.IssuedAt > now + AllowedSkew)
                return Result(CrlAcceptanceStatus.NotYetValid, number, $"CRL {number} is issued at {crl.Body.IssuedAt:O}, in the future");
            _store.Save(new CrlState(number, hash, crl.Encode()));
            Install(crl, hash);
            return Result(CrlAcceptanceStatus.Accepted, number, $"CRL {number} accepted");
        }
    }

    private CrlAcceptance? CheckSignatures(Crl crl)
    {
        var number = crl.Body.CrlNumber;
        var newlyRevoked = crl.Body.RevokedAnchors
            .Where(a => _anchors.IsActiveAnchor(a.PublicKey.Span))
            .Select(a => a.PublicKey.ToArray())
            .ToList();
        bool IsTarget(ReadOnlyMemory<byte> key) => newlyRevoked.Any(r => key.Span.SequenceEqual(r));
        var set = _anchors.Current;
        if (newlyRevoked.Count == 0)
        {
            if (_anchors.MeetsThreshold(crl.Document, ThresholdKind.Crl, _time.GetUtcNow())) return null;
            return Result(CrlAcceptanceStatus.InsufficientSignatures, number, $"CRL {number} lacks {set.CrlThreshold} valid signatures from distinct anchors");
        }
        // Compromise: every remaining anchor must sign, and the remaining keys must still meet every threshold.
        var remaining = _anchors.ActiveAnchorCount - newlyRevoked.Count;
        var largest = Math.Max(set.RotationThreshold, set.ConfigThreshold);
        if (remaining < largest)
            return Result(CrlAcceptanceStatus.AnchorRevocationRefused, number,
                $"revoking {newlyRevoked.Count} anchor(s) would leave {remaining} keys, below the threshold {largest}; rotate instead");
        var signed = _anchors.CountCurrent(crl.Document, remaining, IsTarget);
        if (signed < remaining || signed < set.CrlThreshold)
            return Result(CrlAcceptanceStatus.AnchorRevocationRefused, number,
                $"anchor revocation needs all {remaining} remaining anchors to sign; {signed} did");
        return null;
    }

    private void Install(Crl crl, string hash)
    {
        _current = crl;
        _currentHash = hash;
        _revokedNodes = new HashSet<string>(crl.Body.RevokedNodes.Select(n => Convert.ToHexStringLower(n.NodeId.Span)), StringComparer.Ordinal);
        var revokedAnchors = crl.Body.RevokedAnchors.Select(a => Convert.ToHexStringLower(a.PublicKey.Span)).ToList();
        if (revokedAnchors.Count > 0) _anchors = _anchors.WithRevokedAnchors(revokedAnchors);
    }

    private CrlAcceptance Result(CrlAcceptanceStatus status, ulong number, string detail)
    {
        var current = _current;
        var stale = current is not null && _time.GetUtcNow() > current.Body.NextUpdate;
        return new CrlAcceptance(status, number, current?.Body.CrlNumber ?? 0, stale, detail);
    }
}
