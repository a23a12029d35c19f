using System.Collections.Concurrent;
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
/// <c>/kontinuum/cert/1.0.0</c>, judges the certificate each peer pushes, and answers who may enter routing tables
/// (<see cref="AdmissionStatus.Admitted"/>) or only query (<see cref="AdmissionStatus.ClientOnly"/>). A newer CRL
/// re-judges everyone; peers it revokes are refused and reported through <see cref="PeerRefused"/>.
/// </summary>
public sealed partial class CertificateAdmission : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly NetworkDefinition _network;
    private readonly Func<TrustAnchors> _anchors;
    private readonly IRevocationSource? _revocations;
    private readonly Certificate? _own;
    private readonly TimeSpan _offerTimeout;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<PeerId, PeerEntry> _peers = new();
    private readonly VerdictMemory _memory;
    private readonly Core.Limits.PeerRateLimiter _offerRate;
    private readonly AdmissionLimits _limits;
    private readonly BackgroundTasks _tasks;

    /// <summary>Creates the service; call <see cref="Start"/> to serve and push.</summary>
    /// <param name="host">The host whose peers are judged.</param>
    /// <param name="network">The network (must have anchors).</param>
    /// <param name="anchors">The anchors in force, read on every judgement.</param>
    /// <param name="revocations">The CRL in force, when known.</param>
    /// <param name="ownCertificate">Our certificate; null for a client.</param>
    /// <param name="offerTimeout">How long a peer may take to push its certificate before it counts as a client.</param>
    /// <param name="logger">Logging.</param>
    /// <param name="limits">Bounds on what is remembered and how often peers are judged again (defaults when null).</param>
    public CertificateAdmission(IHost host, NetworkDefinition network, Func<TrustAnchors> anchors, IRevocationSource? revocations,
        Certificate? ownCertificate, TimeSpan offerTimeout, ILogger logger, AdmissionLimits? limits = null)
    {
        if (!network.AdmissionEnforced) throw new ArgumentException($"network '{network.Name}' has no anchors; admission needs them", nameof(network));
        _host = host;
        _network = network;
        _anchors = anchors;
        _revocations = revocations;
        _own = ownCertificate;
        _offerTimeout = offerTimeout;
        _logger = logger;
        _limits = limits ?? new AdmissionLimits();
        _memory = new VerdictMemory(_limits.MaxRememberedPeers);
        _offerRate = new Core.Limits.PeerRateLimiter(_limits.OffersPerPeerPerSecond, _limits.OfferBurstPerPeer, _limits.MaxRememberedPeers, host.TimeProvider);
        _tasks = new BackgroundTasks(e => LogBackgroundFailure(_logger, e));
    }

    /// <summary>Verdicts held: on connected peers, and remembered on peers gone (bounded by <see cref="AdmissionLimits.MaxRememberedPeers"/>).</summary>
    public (int Connected, int Remembered) Held => (_peers.Count, _memory.Count);

    /// <summary>Raised when a peer is refused after having been judged otherwise (revocation).</summary>
    public event EventHandler<AdmissionVerdict>? PeerRefused;

    /// <summary>Registers the protocol handler and starts pushing our certificate to new peers.</summary>
    public void Start()
    {
        _host.SetHandler(_network.CertificateProtocolId, HandleOfferAsync);
        _host.PeerConnected += OnPeerConnected;
        _host.PeerDisconnected += OnPeerDisconnected;
        _host.PeerIdentified += OnPeerIdentified;
        foreach (var connection in _host.Connections) OnPeerConnected(this, new PeerEventArgs(connection.RemotePeer, connection));
        _tasks.Run(RejudgeLoopAsync);
    }

    /// <summary>
    /// The current verdict on <paramref name="peer"/>: its connection's, else the one remembered since it left, else
    /// <see cref="AdmissionStatus.Pending"/>.
    /// </summary>
    public AdmissionVerdict GetVerdict(PeerId peer)
    {
        if (_peers.TryGetValue(peer, out var entry) && entry.Decided is { } verdict) return verdict;
        if (entry is null && _memory.Get(peer, Now) is { } remembered) return remembered.Verdict;
        return new AdmissionVerdict(peer, AdmissionStatus.Pending, null, "awaiting certificate");
    }

    /// <summary>
    /// Waits (at most the offer timeout) for the verdict on a connected peer. A peer not connected gets the remembered
    /// verdict or <see cref="AdmissionStatus.Pending"/> at once, and leaves nothing behind.
    /// </summary>
    public async ValueTask<AdmissionVerdict> WaitForVerdictAsync(PeerId peer, CancellationToken cancellationToken)
    {
        if (!_peers.TryGetValue(peer, out var entry))
        {
            if (!_host.Connections.Any(c => c.RemotePeer == peer)) return GetVerdict(peer);
            entry = _peers.GetOrAdd(peer, _ => new PeerEntry());
        }
        try
        {
            return await entry.Verdict.Task.WaitAsync(_offerTimeout, _host.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            entry.Decide(new AdmissionVerdict(peer, AdmissionStatus.ClientOnly, null, "no certificate offered"));
            return entry.Decided!;
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
        foreach (var (peer, entry) in _peers)
        {
            if (entry.Decided is not { Certificate: { } certificate } before || !MayChange(before)) continue;
            var after = Judge(peer, entry.PublicKey, certificate);
            if (after.Status == before.Status) continue;
            var replacement = new PeerEntry { PublicKey = entry.PublicKey };
            replacement.Decide(after);
            if (!_peers.TryUpdate(peer, replacement, entry)) continue;
            if (after.Status == AdmissionStatus.Refused) Refuse(after, refused);
            else LogVerdict(_logger, peer, after.Status, after.Reason);
        }
        var now = Now;
        foreach (var remembered in _memory.Snapshot(now))
        {
            var before = remembered.Verdict;
            if (before.Certificate is not { } certificate || !MayChange(before) || _peers.ContainsKey(before.Peer)) continue;
            var after = Judge(before.Peer, remembered.PublicKey, certificate);
            if (after.Status == before.Status) continue;
            _memory.Remember(after, remembered.PublicKey, RememberUntil(after, now));
            if (after.Status == AdmissionStatus.Refused) Refuse(after, refused);
        }
        return refused;
    }

    private static bool MayChange(AdmissionVerdict verdict) =>
        verdict.Status == AdmissionStatus.Admitted || verdict.Reason == NotYetValidReason;

    private void Refuse(AdmissionVerdict verdict, List<AdmissionVerdict> refused)
    {
        LogRefused(_logger, verdict.Peer, verdict.Reason);
        refused.Add(verdict);
        PeerRefused?.Invoke(this, verdict);
    }

    private DateTimeOffset Now => _host.TimeProvider.GetUtcNow();

    private DateTimeOffset RememberUntil(AdmissionVerdict verdict, DateTimeOffset now) => verdict.Status == AdmissionStatus.Admitted
        // Kept past the expiry for two re-judgement ticks, so that the expiry is seen and turned into a refusal.
        ? Min(now + _limits.RememberAdmitted, verdict.Certificate!.Body.ValidUntil + 2 * _limits.RejudgeInterval)
        : now + _limits.RememberRefused;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private async Task RejudgeLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_limits.RejudgeInterval, _host.TimeProvider);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false)) Rejudge();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _host.PeerConnected -= OnPeerConnected;
        _host.PeerDisconnected -= OnPeerDisconnected;
        _host.PeerIdentified -= OnPeerIdentified;
        _host.RemoveHandler(_network.CertificateProtocolId);
        await _tasks.DisposeAsync().ConfigureAwait(false);
    }

    private void OnPeerConnected(object? sender, PeerEventArgs e)
    {
        if (e.Connection is not { } connection) return;
        var entry = _peers.GetOrAdd(e.Peer, _ => new PeerEntry());
        entry.PublicKey = connection.RemotePublicKey;
        // A refused peer stays refused on a new connection until it offers a different certificate.
        if (_memory.Take(e.Peer, Now) is { Verdict.Status: AdmissionStatus.Refused } remembered
            && remembered.PublicKey.Span.SequenceEqual(connection.RemotePublicKey.Span))
            entry.Decide(remembered.Verdict);
        _tasks.Run(token => PushOwnAsync(connection, token));
    }

    private void OnPeerDisconnected(object? sender, PeerEventArgs e)
    {
        if (!_peers.TryRemove(e.Peer, out var entry)) return;
        // Clients are forgotten; admissions and refusals are remembered, bounded, to be judged again while away.
        if (entry.Decided is { Status: AdmissionStatus.Admitted or AdmissionStatus.Refused } verdict)
            _memory.Remember(verdict, entry.PublicKey, RememberUntil(verdict, Now));
    }

    private void OnPeerIdentified(object? sender, PeerEventArgs e)
    {
        // A peer that does not serve the certificate protocol will never push a certificate: it is a client now, not
        // after the offer timeout (its first requests would wait that long).
        if (!_peers.TryGetValue(e.Peer, out var entry) || entry.Decided is not null) return;
        if (_host.PeerStore.Get(e.Peer) is not { Protocols.Count: > 0 } info || info.Protocols.Contains(_network.CertificateProtocolId)) return;
        if (entry.Decide(new AdmissionVerdict(e.Peer, AdmissionStatus.ClientOnly, null, "does not speak the certificate protocol")))
            LogVerdict(_logger, e.Peer, AdmissionStatus.ClientOnly, "does not speak the certificate protocol");
    }

    private async Task PushOwnAsync(IConnection connection, CancellationToken cancellationToken)
    {
        // Without our offer the peer never admits us on this connection, so a push the remote reset (seen when both
        // sides dial at once) is tried again, a bounded number of times.
        const int attempts = 3;
        for (var attempt = 1; attempt <= attempts; attempt++)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_offerTimeout);
                await CertificateExchange.SendAsync(connection, _network.CertificateProtocolId, _own, timeout.Token).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ProtocolNotSupportedException)
            {
                LogPushFailed(_logger, connection.RemotePeer, e.Message);
                if (e is ProtocolNotSupportedException || cancellationToken.IsCancellationRequested || attempt == attempts) return;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), _host.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask HandleOfferAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        var peer = stream.Connection.RemotePeer;
        if (!_offerRate.TryAcquire(peer))
        {
            // Each offer costs signature checks: a peer pushing them in a loop is not judged each time.
            LogPushFailed(_logger, peer, "offer rate over the per-peer limit");
            stream.Reset();
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_offerTimeout);
        AdmissionVerdict verdict;
        Certificate? offered = null;
        try
        {
            offered = await CertificateExchange.ReceiveAsync(stream, timeout.Token).ConfigureAwait(false);
            verdict = offered is null
                ? new AdmissionVerdict(peer, AdmissionStatus.ClientOnly, null, "no certificate")
                : Judge(peer, stream.Connection.RemotePublicKey, offered);
        }
        catch (IOException e)
        {
            // Nothing was offered (a stream closed early, a slow peer): not a verdict; the peer may offer again.
            LogPushFailed(_logger, peer, e.Message);
            return;
        }
        catch (InvalidDataException e)
        {
            verdict = new AdmissionVerdict(peer, AdmissionStatus.Refused, null, e.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            LogPushFailed(_logger, peer, "no offer within the offer timeout");
            return;
        }
        var entry = _peers.GetOrAdd(peer, _ => new PeerEntry());
        entry.PublicKey = stream.Connection.RemotePublicKey;
        if (!entry.Decide(verdict))
        {
            // A later offer replaces an earlier verdict (e.g. the timeout's "client"); a refusal only when the
            // certificate differs (a renewed one is judged afresh, the same one again is not).
            if (entry.Decided is { Status: AdmissionStatus.Refused } refusal && SameCertificate(refusal.Certificate, offered)) return;
            var replacement = new PeerEntry { PublicKey = entry.PublicKey };
            replacement.Decide(verdict);
            _peers[peer] = replacement;
        }
        // Gone meanwhile (its disconnect already handled): move the verdict to the bounded memory instead.
        if (stream.Connection.IsClosed && !_host.Connections.Any(c => c.RemotePeer == peer)) OnPeerDisconnected(this, new PeerEventArgs(peer, null));
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

    private const string NotYetValidReason = "certificate-notyetvalid";

    private static bool SameCertificate(Certificate? a, Certificate? b) =>
        a is not null && b is not null && a.Encode().AsSpan().SequenceEqual(b.Encode());

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

    [LoggerMessage(Level = LogLevel.Debug, Message = "could not push our certificate to {Peer}: {Reason}")]
    private static partial void LogPushFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "admission background task failed")]
    private static partial void LogBackgroundFailure(ILogger logger, Exception exception);
}
