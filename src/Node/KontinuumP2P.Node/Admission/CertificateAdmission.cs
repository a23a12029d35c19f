using System.Collections.Concurrent;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Node.Networks;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Node.Admission;

/// <summary>
/// Admission control of a Kontinuum network (design §5): pushes our certificate to every new peer over
/// <c>/kontinuum/cert/1.0.0</c> (or whatever <see cref="ICertificateChannel"/> carries offers), judges the certificate each peer pushes, and answers who may enter routing tables
/// (<see cref="AdmissionStatus.Admitted"/>) or only query (<see cref="AdmissionStatus.ClientOnly"/>). A newer CRL
/// re-judges everyone; peers it revokes are refused and reported through <see cref="PeerRefused"/>.
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
    private readonly ConcurrentDictionary<PeerId, PeerEntry> _peers = new();

    /// <summary>Creates the service; call <see cref="Start"/> to judge and push.</summary>
    /// <param name="channel">How offers travel (a host's certificate protocol, or a simulated network).</param>
    /// <param name="network">The network (must have anchors).</param>
    /// <param name="anchors">The anchors in force, read on every judgement.</param>
    /// <param name="revocations">The CRL in force, when known.</param>
    /// <param name="ownCertificate">Our certificate; null for a client.</param>
    /// <param name="offerTimeout">How long a peer may take to push its certificate before it counts as a client.</param>
    /// <param name="timeProvider">The clock of the offer timeout.</param>
    /// <param name="logger">Logging.</param>
    public CertificateAdmission(ICertificateChannel channel, NetworkDefinition network, Func<TrustAnchors> anchors, IRevocationSource? revocations,
        Certificate? ownCertificate, TimeSpan offerTimeout, TimeProvider timeProvider, ILogger logger)
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
    }

    /// <summary>Raised when a peer is refused after having been judged otherwise (revocation).</summary>
    public event EventHandler<PeerRefusedEventArgs>? PeerRefused;

    /// <summary>Verdicts and pending peers held (memory accounting).</summary>
    public int TrackedPeers => _peers.Count;

    /// <summary>Starts the channel: our certificate goes to every new peer, theirs are judged here.</summary>
    public void Start() => _channel.Start(this, _own);

    /// <summary>The current verdict on <paramref name="peer"/> (<see cref="AdmissionStatus.Pending"/> when none yet).</summary>
    public AdmissionVerdict GetVerdict(PeerId peer) =>
        _peers.TryGetValue(peer, out var entry) && entry.Decided is { } verdict
            ? verdict
            : new AdmissionVerdict(peer, AdmissionStatus.Pending, null, "awaiting certificate");

    /// <summary>The current status of <paramref name="peer"/>, without allocating a verdict.</summary>
    public AdmissionStatus GetStatus(PeerId peer) =>
        _peers.TryGetValue(peer, out var entry) && entry.Decided is { } verdict ? verdict.Status : AdmissionStatus.Pending;

    /// <summary>Waits (at most the offer timeout) for the verdict on a connected peer.</summary>
    public async ValueTask<AdmissionVerdict> WaitForVerdictAsync(PeerId peer, CancellationToken cancellationToken)
    {
        var entry = _peers.GetOrAdd(peer, _ => new PeerEntry());
        try
        {
            return await entry.Verdict.Task.WaitAsync(_offerTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            entry.Decide(new AdmissionVerdict(peer, AdmissionStatus.ClientOnly, null, "no certificate offered"));
            return entry.Decided!;
        }
    }

    /// <summary>Judges everyone again (after a new CRL or an anchor change); returns the peers newly refused.</summary>
    public IReadOnlyList<AdmissionVerdict> Rejudge()
    {
        var refused = new List<AdmissionVerdict>();
        // Sorted so that simulations re-judge (and report) in the same order on every run.
        foreach (var (peer, entry) in _peers.OrderBy(p => p.Key.ToString(), StringComparer.Ordinal))
        {
            if (entry.Decided is not { } before) continue;
            if (before.Status != AdmissionStatus.Admitted || before.Certificate is null) continue;
            var after = Judge(peer, entry.PublicKey, before.Certificate);
            if (after.Status == AdmissionStatus.Admitted) continue;
            var replacement = new PeerEntry { PublicKey = entry.PublicKey };
            replacement.Decide(after);
            _peers[peer] = replacement;
            LogRefused(_logger, peer, after.Reason);
            refused.Add(after);
            PeerRefused?.Invoke(this, new PeerRefusedEventArgs(after));
        }
        return refused;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await _channel.StopAsync().ConfigureAwait(false);

    /// <inheritdoc />
    void ICertificateSink.OnConnected(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey)
    {
        var entry = _peers.GetOrAdd(peer, _ => new PeerEntry());
        entry.PublicKey = encodedPublicKey;
    }

    /// <inheritdoc />
    void ICertificateSink.OnDisconnected(PeerId peer)
    {
        // Keep refusals (a revoked peer that reconnects stays refused until it proves otherwise); forget the rest.
        if (_peers.TryGetValue(peer, out var entry) && entry.Decided?.Status == AdmissionStatus.Refused) return;
        _peers.TryRemove(peer, out _);
    }

    /// <inheritdoc />
    bool ICertificateSink.IsDecided(PeerId peer) => _peers.TryGetValue(peer, out var entry) && entry.Decided is not null;

    /// <inheritdoc />
    void ICertificateSink.OnOffer(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey, Certificate? certificate) =>
        Record(peer, encodedPublicKey, certificate is null
            ? new AdmissionVerdict(peer, AdmissionStatus.ClientOnly, null, "no certificate")
            : Judge(peer, encodedPublicKey, certificate));

    /// <inheritdoc />
    void ICertificateSink.OnMalformedOffer(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey, string reason) =>
        Record(peer, encodedPublicKey, new AdmissionVerdict(peer, AdmissionStatus.Refused, null, reason));

    private void Record(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey, AdmissionVerdict verdict)
    {
        var entry = _peers.GetOrAdd(peer, _ => new PeerEntry());
        entry.PublicKey = encodedPublicKey;
        if (!entry.Decide(verdict))
        {
            // A later offer replaces an earlier verdict (e.g. the timeout's "client"), never a refusal.
            if (entry.Decided?.Status == AdmissionStatus.Refused) return;
            var replacement = new PeerEntry { PublicKey = entry.PublicKey };
            replacement.Decide(verdict);
            _peers[peer] = replacement;
        }
        // Operators want to see refusals (a foreign or revoked certificate on their network) without debug logs.
        if (verdict.Status == AdmissionStatus.Refused) LogRefused(_logger, peer, verdict.Reason);
        else LogVerdict(_logger, peer, verdict.Status, verdict.Reason);
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

    private sealed class PeerEntry
    {
        private volatile AdmissionVerdict? _decided;

        public TaskCompletionSource<AdmissionVerdict> Verdict { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ReadOnlyMemory<byte> PublicKey { get; set; }

        /// <summary>The verdict once decided, readable without touching the task.</summary>
        public AdmissionVerdict? Decided => _decided;

        /// <summary>Records the verdict; false when one was already decided.</summary>
        public bool Decide(AdmissionVerdict verdict)
        {
            lock (Verdict)
            {
                if (_decided is not null) return false;
                _decided = verdict;
            }
            Verdict.TrySetResult(verdict);
            return true;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "admission verdict on {Peer}: {Status} ({Reason})")]
    private static partial void LogVerdict(ILogger logger, PeerId peer, AdmissionStatus status, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "peer {Peer} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, PeerId peer, string reason);

}

/// <summary>Arguments of <see cref="CertificateAdmission.PeerRefused"/>.</summary>
/// <param name="verdict">The new verdict (status <see cref="AdmissionStatus.Refused"/>) and its reason.</param>
public sealed class PeerRefusedEventArgs(AdmissionVerdict verdict) : EventArgs
{
    /// <summary>The new verdict and its reason.</summary>
    public AdmissionVerdict Verdict { get; } = verdict;
}
