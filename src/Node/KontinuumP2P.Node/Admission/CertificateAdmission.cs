using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Node.Networks;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Node.Admission;

/// <summary>
/// Admission control of a Kontinuum network (design §5): pushes our certificate to every new peer over
/// <c>/kontinuum/cert/1.0.0</c> (or whatever <see cref="ICertificateChannel"/> carries offers), judges the certificate each peer pushes, and answers who may enter routing tables
/// (<see cref="AdmissionStatus.Admitted"/>) or only query (<see cref="AdmissionStatus.ClientOnly"/>). A newer CRL
/// re-judges everyone; peers it revokes are refused and reported through <see cref="PeerRefused"/>. Verdicts on peers
/// gone are remembered, bounded by <see cref="AdmissionLimits"/>.
/// </summary>
public sealed partial class CertificateAdmission : ICertificateSink, IAsyncDisposable
{
    private readonly ICertificateChannel _channel;
    private readonly Func<TrustAnchors> _anchors;
    private readonly IRevocationSource? _revocations;
    private readonly Certificate? _own;
    private readonly TimeSpan _offerTimeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConnectedPeers _peers = new();
    private readonly VerdictMemory _memory;
    private readonly Core.Limits.PeerRateLimiter _offerRate;
    private readonly AdmissionLimits _limits;
    private readonly BackgroundTasks _tasks;

    /// <summary>Creates the service; call <see cref="Start"/> to judge and push.</summary>
    /// <param name="channel">How offers travel (a host's certificate protocol, or a simulated network).</param>
    /// <param name="network">The network (must have anchors).</param>
    /// <param name="anchors">The anchors in force, read on every judgement.</param>
    /// <param name="revocations">The CRL in force, when known.</param>
    /// <param name="ownCertificate">Our certificate; null for a client.</param>
    /// <param name="offerTimeout">How long a peer may take to push its certificate before it counts as a client.</param>
    /// <param name="timeProvider">The clock of the offer timeout, the verdict memory and the re-judge loop.</param>
    /// <param name="logger">Logging.</param>
    /// <param name="limits">Bounds on what is remembered and how often peers are judged again (defaults when null).</param>
    public CertificateAdmission(ICertificateChannel channel, NetworkDefinition network, Func<TrustAnchors> anchors, IRevocationSource? revocations,
        Certificate? ownCertificate, TimeSpan offerTimeout, TimeProvider timeProvider, ILogger logger, AdmissionLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(network);
        if (!network.AdmissionEnforced) throw new ArgumentException($"network '{network.Name}' has no anchors; admission needs them", nameof(network));
        _channel = channel;
        _anchors = anchors;
        _revocations = revocations;
        _own = ownCertificate;
        _offerTimeout = offerTimeout;
        _time = timeProvider;
        _logger = logger;
        _limits = limits ?? new AdmissionLimits();
        _memory = new VerdictMemory(_limits.MaxRememberedPeers);
        _offerRate = new Core.Limits.PeerRateLimiter(_limits.OffersPerPeerPerSecond, _limits.OfferBurstPerPeer, _limits.MaxRememberedPeers, timeProvider);
        _tasks = new BackgroundTasks(e => LogBackgroundFailure(_logger, e));
    }

    /// <summary>Creates the service over a libp2p host's certificate protocol (<see cref="HostCertificateChannel"/>).</summary>
    /// <param name="host">The host whose peers are judged.</param>
    /// <param name="network">The network (must have anchors).</param>
    /// <param name="anchors">The anchors in force, read on every judgement.</param>
    /// <param name="revocations">The CRL in force, when known.</param>
    /// <param name="ownCertificate">Our certificate; null for a client.</param>
    /// <param name="offerTimeout">How long a peer may take to push its certificate before it counts as a client.</param>
    /// <param name="logger">Logging.</param>
    /// <param name="limits">Bounds on what is remembered and how often peers are judged again (defaults when null).</param>
    public CertificateAdmission(IPeerHost host, NetworkDefinition network, Func<TrustAnchors> anchors, IRevocationSource? revocations,
        Certificate? ownCertificate, TimeSpan offerTimeout, ILogger logger, AdmissionLimits? limits = null)
        : this(new HostCertificateChannel(host ?? throw new ArgumentNullException(nameof(host)), network.CertificateProtocolId, offerTimeout, logger),
            network, anchors, revocations, ownCertificate, offerTimeout, host.TimeProvider, logger, limits)
    {
    }

    /// <summary>Raised when a peer is refused after having been judged otherwise (revocation, expiry).</summary>
    public event EventHandler<PeerRefusedEventArgs>? PeerRefused;

    /// <summary>
    /// True while the revocation data has been stale longer than <see cref="AdmissionLimits.MaxCrlStaleness"/>: new
    /// certificates are refused with <c>crl-stale</c> until a fresh CRL arrives.
    /// </summary>
    public bool FailingClosed =>
        _limits.MaxCrlStaleness != Timeout.InfiniteTimeSpan && _revocations is CrlTracker tracker && tracker.StaleFor > _limits.MaxCrlStaleness;

    /// <summary>Verdicts and pending peers held on connected peers (memory accounting).</summary>
    public int TrackedPeers => _peers.Count;

    /// <summary>Verdicts held: on connected peers, and remembered on peers gone (bounded by <see cref="AdmissionLimits.MaxRememberedPeers"/>).</summary>
    public (int Connected, int Remembered) Held => (_peers.Count, _memory.Count);

    /// <summary>
    /// Starts the channel (our certificate goes to every new peer, theirs are judged here) and, unless
    /// <see cref="AdmissionLimits.RejudgeInterval"/> is zero, the periodic re-judgement.
    /// </summary>
    public void Start()
    {
        _channel.Start(this, _own);
        if (_limits.RejudgeInterval > TimeSpan.Zero) _tasks.Run(RejudgeLoopAsync);
    }

    /// <summary>
    /// The current verdict on <paramref name="peer"/>: its connection's, else the one remembered since it left, else
    /// <see cref="AdmissionStatus.Pending"/>.
    /// </summary>
    public AdmissionVerdict GetVerdict(PeerId peer)
    {
        var held = _peers.TryGet(peer, out var decided);
        if (decided is not null) return decided;
        if (!held && _memory.Get(peer, Now) is { } remembered) return remembered.Verdict;
        return new AdmissionVerdict(peer, AdmissionStatus.Pending, null, "awaiting certificate");
    }

    /// <summary>The current status of <paramref name="peer"/>, without allocating a verdict.</summary>
    public AdmissionStatus GetStatus(PeerId peer) =>
        _peers.GetStatus(peer) ?? _memory.GetStatus(peer, Now) ?? AdmissionStatus.Pending;

    /// <summary>
    /// Waits (at most the offer timeout) for the verdict on a connected peer. A peer not connected gets the remembered
    /// verdict or <see cref="AdmissionStatus.Pending"/> at once, and leaves nothing behind.
    /// </summary>
    public async ValueTask<AdmissionVerdict> WaitForVerdictAsync(PeerId peer, CancellationToken cancellationToken)
    {
        if (!_peers.TryGet(peer, out _))
        {
            if (!_channel.IsConnected(peer)) return GetVerdict(peer);
            _peers.Add(peer);
        }
        var timedOut = new AdmissionVerdict(peer, AdmissionStatus.ClientOnly, null, "no certificate offered");
        // Null: the peer disconnected in between (its entry is gone); it gets what a silent peer gets.
        if (_peers.WaitAsync(peer) is not { } waiting) return timedOut;
        try
        {
            return await waiting.WaitAsync(_offerTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _peers.Decide(timedOut, out var current);
            return current ?? timedOut;
        }
    }

    /// <summary>
    /// Judges everyone again, connected or remembered (after a new CRL or an anchor change, and every
    /// <see cref="AdmissionLimits.RejudgeInterval"/> for expiry and the end of an anchor overlap); returns the peers
    /// newly refused. A refusal that time can lift (a certificate not valid yet) becomes an admission when it is due.
    /// </summary>
    public IReadOnlyList<AdmissionVerdict> Rejudge()
    {
        var refused = new List<AdmissionVerdict>();
        // Sorted so that simulations re-judge (and report) in the same order on every run.
        foreach (var (before, publicKey, version) in _peers.Decided().OrderBy(p => p.Verdict.Peer.ToString(), StringComparer.Ordinal))
        {
            var peer = before.Peer;
            if (before.Certificate is not { } certificate || !MayChange(before)) continue;
            var after = before.Reason == CrlStaleReason ? JudgeNew(peer, publicKey, certificate) : Judge(peer, publicKey, certificate);
            if (after.Status == before.Status) continue;
            if (!_peers.Replace(after, version)) continue;
            if (after.Status == AdmissionStatus.Refused) Refuse(after, refused);
            else LogVerdict(_logger, peer, after.Status, after.Reason);
        }
        var now = Now;
        foreach (var remembered in _memory.Snapshot(now))
        {
            var before = remembered.Verdict;
            if (before.Certificate is not { } certificate || !MayChange(before) || _peers.TryGet(before.Peer, out _)) continue;
            var after = before.Reason == CrlStaleReason
                ? JudgeNew(before.Peer, remembered.PublicKey, certificate)
                : Judge(before.Peer, remembered.PublicKey, certificate);
            if (after.Status == before.Status) continue;
            _memory.Remember(after, remembered.PublicKey, RememberUntil(after, now));
            if (after.Status == AdmissionStatus.Refused) Refuse(after, refused);
        }
        return refused;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _channel.StopAsync().ConfigureAwait(false);
        await _tasks.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    void ICertificateSink.OnConnected(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey)
    {
        _peers.Add(peer, encodedPublicKey);
        // A refused peer stays refused on a new connection until it offers a different certificate.
        if (_memory.Take(peer, Now) is { Verdict.Status: AdmissionStatus.Refused } remembered
            && remembered.PublicKey.Span.SequenceEqual(encodedPublicKey.Span))
            _peers.Decide(remembered.Verdict, out _);
    }

    /// <inheritdoc />
    void ICertificateSink.OnDisconnected(PeerId peer)
    {
        if (!_peers.Remove(peer, out var decided, out var publicKey)) return;
        // Clients are forgotten; admissions and refusals are remembered, bounded, to be judged again while away.
        if (decided is { Status: AdmissionStatus.Admitted or AdmissionStatus.Refused } verdict)
            _memory.Remember(verdict, publicKey, RememberUntil(verdict, Now));
    }

    /// <inheritdoc />
    void ICertificateSink.OnIdentified(PeerId peer, bool servesCertificateProtocol)
    {
        // A peer that does not serve the certificate protocol will never push a certificate: it is a client now, not
        // after the offer timeout (its first requests would wait that long).
        if (servesCertificateProtocol) return;
        if (_peers.Decide(new AdmissionVerdict(peer, AdmissionStatus.ClientOnly, null, "does not speak the certificate protocol"), out _))
            LogVerdict(_logger, peer, AdmissionStatus.ClientOnly, "does not speak the certificate protocol");
    }

    /// <inheritdoc />
    bool ICertificateSink.TryAcceptOffer(PeerId peer) => _offerRate.TryAcquire(peer);

    /// <inheritdoc />
    bool ICertificateSink.IsDecided(PeerId peer) => _peers.IsDecided(peer);

    /// <inheritdoc />
    void ICertificateSink.OnOffer(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey, Certificate? certificate) =>
        Record(peer, encodedPublicKey, certificate is null
            ? new AdmissionVerdict(peer, AdmissionStatus.ClientOnly, null, "no certificate")
            : JudgeNew(peer, encodedPublicKey, certificate), certificate);

    /// <inheritdoc />
    void ICertificateSink.OnMalformedOffer(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey, string reason) =>
        Record(peer, encodedPublicKey, new AdmissionVerdict(peer, AdmissionStatus.Refused, null, reason), null);

    private void Record(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey, AdmissionVerdict verdict, Certificate? offered)
    {
        _peers.Add(peer, encodedPublicKey);
        if (!_peers.Decide(verdict, out var current))
        {
            // A later offer replaces an earlier verdict (e.g. the timeout's "client"); a refusal only when the
            // certificate differs (a renewed one is judged afresh, the same one again is not).
            if (current is { Status: AdmissionStatus.Refused } refusal && SameCertificate(refusal.Certificate, offered)) return;
            _peers.Replace(verdict, version: null);
        }
        // Operators want to see refusals (a foreign or revoked certificate on their network) without debug logs.
        if (verdict.Status == AdmissionStatus.Refused) LogRefused(_logger, peer, verdict.Reason);
        else LogVerdict(_logger, peer, verdict.Status, verdict.Reason);
    }

    private static bool MayChange(AdmissionVerdict verdict) =>
        verdict.Status == AdmissionStatus.Admitted || verdict.Reason is NotYetValidReason or CrlStaleReason;

    private void Refuse(AdmissionVerdict verdict, List<AdmissionVerdict> refused)
    {
        LogRefused(_logger, verdict.Peer, verdict.Reason);
        refused.Add(verdict);
        PeerRefused?.Invoke(this, new PeerRefusedEventArgs(verdict));
    }

    private DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>
    /// <see cref="GetStatus(PeerId)"/>, with the generation of the connected peers under which the answer holds when it
    /// came from a connected peer (else -1: a remembered verdict can lapse with time, and reading it touches the
    /// memory's order, so it is asked again every time).
    /// </summary>
    internal AdmissionStatus GetStatus(PeerId peer, out long generation)
    {
        if (_peers.GetStatus(peer, out generation) is { } status) return status;
        generation = -1;
        return GetStatus(peer);
    }

    /// <summary>Grows whenever a connected peer asked about leaves, or a connected peer is decided anything but admitted.</summary>
    internal long Generation => _peers.Generation;

    private DateTimeOffset RememberUntil(AdmissionVerdict verdict, DateTimeOffset now) => verdict.Status == AdmissionStatus.Admitted
        // Kept past the expiry for two re-judgement ticks, so that the expiry is seen and turned into a refusal.
        ? Min(now + _limits.RememberAdmitted, verdict.Certificate!.Body.ValidUntil + 2 * _limits.RejudgeInterval)
        : now + _limits.RememberRefused;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private async Task RejudgeLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_limits.RejudgeInterval, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false)) Rejudge();
    }

    private AdmissionVerdict Judge(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey, Certificate certificate)
    {
        var body = certificate.Body;
        if (!body.NodeId.Span.SequenceEqual(peer.Bytes))
            return new(peer, AdmissionStatus.Refused, certificate, "certificate names another node");
        byte[] noiseKey;
        try
        {
            var (type, data) = PublicKeyEncoding.Decode(encodedPublicKey.Span);
            noiseKey = type == KeyType.Ed25519 ? data : [];
        }
        catch (FormatException)
        {
            noiseKey = [];
        }
        if (!body.NodePublicKey.Span.SequenceEqual(noiseKey))
            return new(peer, AdmissionStatus.Refused, certificate, "certificate node key is not the connection's identity");
        var verification = _anchors().VerifyCertificate(certificate, _revocations);
        return verification.IsValid
            ? new(peer, AdmissionStatus.Admitted, certificate, "valid certificate")
            : new(peer, AdmissionStatus.Refused, certificate, "certificate-" + verification.Status.ToString().ToLowerInvariant());
    }

    private const string NotYetValidReason = "certificate-notyetvalid";

    private const string CrlStaleReason = "crl-stale";

    /// <summary>Judges a certificate offered by a peer not admitted before: the stale-CRL policy applies first.</summary>
    private AdmissionVerdict JudgeNew(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey, Certificate certificate)
    {
        var verdict = Judge(peer, encodedPublicKey, certificate);
        if (verdict.Status != AdmissionStatus.Admitted || !FailingClosed) return verdict;
        return new(peer, AdmissionStatus.Refused, certificate, CrlStaleReason);
    }

    private static bool SameCertificate(Certificate? a, Certificate? b) =>
        a is not null && b is not null && a.Encode().AsSpan().SequenceEqual(b.Encode());

    [LoggerMessage(Level = LogLevel.Debug, Message = "admission verdict on {Peer}: {Status} ({Reason})")]
    private static partial void LogVerdict(ILogger logger, PeerId peer, AdmissionStatus status, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "peer {Peer} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "admission background task failed")]
    private static partial void LogBackgroundFailure(ILogger logger, Exception exception);
}

/// <summary>Arguments of <see cref="CertificateAdmission.PeerRefused"/>.</summary>
/// <param name="verdict">The new verdict (status <see cref="AdmissionStatus.Refused"/>) and its reason.</param>
public sealed class PeerRefusedEventArgs(AdmissionVerdict verdict) : EventArgs
{
    /// <summary>The new verdict and its reason.</summary>
    public AdmissionVerdict Verdict { get; } = verdict;
}
