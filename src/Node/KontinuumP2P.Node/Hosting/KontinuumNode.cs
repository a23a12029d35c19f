using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Storage;
using KontinuumP2P.Node.Admission;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Networks;
using KontinuumP2P.Node.Records;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Node.Hosting;

/// <summary>
/// A Kontinuum node: a transport (a libp2p host), admission control, the DHT with the <c>/node/</c> and <c>/crl/</c>
/// validators, our node record kept published, the CRL kept fresh, and the composed services (discovery, ...). Built by
/// <see cref="KontinuumNodeBuilder"/>; <see cref="StartAsync(KontinuumNodeOptions, CancellationToken)"/> builds and
/// starts one in a call. Stop with <see cref="DisposeAsync"/>. Cheap enough that the simulator runs hundreds in one process.
/// </summary>
public sealed partial class KontinuumNode : IAsyncDisposable
{
    private readonly KontinuumNodeOptions _options;
    private readonly NodeServices _services;
    private readonly INodeTransport _transport;
    private readonly IReadOnlyList<Func<KontinuumNode, INodeService?>> _serviceFactories;
    private readonly List<INodeService> _running = [];
    private readonly ILogger _logger;
    private readonly BackgroundTasks _tasks;
    private readonly BackgroundLoops _loops;
    private readonly CrlTracker? _crl;
    private readonly NodeMetrics _metrics;
    private DhtNode? _dht;
    private ulong _recordSequence;
    private int _state; // 0 built, 1 started, 2 disposed

    internal KontinuumNode(KontinuumNodeOptions options, NodeServices services, INodeTransport transport,
        IReadOnlyList<Func<KontinuumNode, INodeService?>> serviceFactories, TrustAnchors? sharedAnchors)
    {
        _options = options;
        _services = services;
        _transport = transport;
        _serviceFactories = serviceFactories;
        _logger = services.LoggerFactory.CreateLogger<KontinuumNode>();
        _tasks = new BackgroundTasks(e => LogBackgroundFailure(_logger, e));
        _loops = new BackgroundLoops("node", services.TimeProvider, _logger, services.MeterFactory);
        if (options.Network.Anchors is { } anchorSet)
        {
            var anchors = sharedAnchors ?? TrustAnchors.Create(anchorSet, services.TimeProvider);
            ICrlStateStore crlState = options.DataDirectory is null
                ? new VolatileCrlStateStore()
                : new CrlStateFile(Path.Combine(options.DataDirectory, "crl-state.json"));
            var crl = new CrlTracker(anchors, crlState, services.TimeProvider);
            _crl = crl;
            var channel = transport.CreateCertificateChannel(options.Network.CertificateProtocolId, options.CertificateOfferTimeout, services.LoggerFactory);
            Admission = new CertificateAdmission(channel, options.Network, () => crl.Anchors, crl, options.Certificate,
                options.CertificateOfferTimeout, services.TimeProvider, services.LoggerFactory.CreateLogger<CertificateAdmission>(), options.AdmissionLimits);
        }
        // Sequence numbers from the clock survive restarts without state: a restarted node's record still wins.
        _recordSequence = (ulong)services.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        StartedAt = services.TimeProvider.GetUtcNow();
        _metrics = new NodeMetrics(this, services.MeterFactory);
    }

    /// <summary>Our peer id.</summary>
    public PeerId PeerId => _transport.LocalPeer;

    /// <summary>The network joined.</summary>
    public NetworkDefinition Network => _options.Network;

    /// <summary>The settings the node was built with.</summary>
    public KontinuumNodeOptions Options => _options;

    /// <summary>The clock, logging and metrics the node runs with (for composed services).</summary>
    public NodeServices Services => _services;

    /// <summary>The libp2p host; null when the node runs on a simulated transport.</summary>
    public IPeerHost? Host => _transport.Host;

    /// <summary>The DHT.</summary>
    /// <exception cref="InvalidOperationException">The node has not started.</exception>
    public DhtNode Dht => _dht ?? throw new InvalidOperationException("the node's DHT exists once the node has started");

    /// <summary>The DHT, or null before the node has started.</summary>
    internal DhtNode? DhtIfStarted => _dht;

    /// <summary>Admission control; null on the open network.</summary>
    public CertificateAdmission? Admission { get; }

    /// <summary>The anchors in force; null on the open network.</summary>
    public TrustAnchors? Anchors => _crl?.Anchors;

    /// <summary>The CRL in force, when one was accepted.</summary>
    public Crl? CurrentCrl => _crl?.Current;

    /// <summary>The CRL tracker (numbers, high-water mark, revocation checks); null on the open network.</summary>
    public CrlTracker? Revocations => _crl;

    /// <summary>True when the CRL in force is past its next_update.</summary>
    public bool CrlIsStale => _crl?.IsStale ?? false;

    /// <summary>
    /// True when the CRL has been stale longer than <see cref="Admission.AdmissionLimits.MaxCrlStaleness"/>, so admission
    /// refuses new certificates (<c>crl-stale</c>) until a fresh CRL arrives.
    /// </summary>
    public bool CrlFailClosed => Admission?.FailingClosed ?? false;

    /// <summary>Whether the node runs with a certificate.</summary>
    public bool HasCertificate => _options.Certificate is not null;

    /// <summary>When the node was built.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>Sequence number of the last node record we signed (a clock value before the first).</summary>
    public ulong RecordSequence => Interlocked.Read(ref _recordSequence);

    /// <summary>Where the node listens (without <c>/p2p/</c>).</summary>
    public IReadOnlyList<Multiaddr> ListenAddresses => _transport.ListenAddresses;

    /// <summary>The node's periodic work (CRL refresh, record republish): names, failures (<see cref="BackgroundLoops.LoopFailed"/>).</summary>
    public BackgroundLoops Loops => _loops;

    /// <summary>The composed services that are running.</summary>
    public IReadOnlyList<INodeService> RunningServices
    {
        get
        {
            lock (_running) return [.. _running];
        }
    }

    /// <summary>Builds and starts a node with the default composition (a libp2p host, no logging or metrics).</summary>
    /// <exception cref="Configuration.NodeConfigException">Invalid options; the message names the setting.</exception>
    public static Task<KontinuumNode> StartAsync(KontinuumNodeOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new KontinuumNodeBuilder(options).StartAsync(cancellationToken);
    }

    /// <summary>Starts the node: listens, joins the DHT, fetches the CRL, publishes our record, starts the services.</summary>
    /// <exception cref="InvalidOperationException">Started twice, or after disposal.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) throw new InvalidOperationException("the node was already started or disposed");
        IDhtStore? store = null;
        if (_options.DataDirectory is not null)
        {
            Directory.CreateDirectory(_options.DataDirectory);
            var dbPath = Path.Combine(_options.DataDirectory, "dht.db");
            var (opened, quarantined) = await SqliteDhtStore.OpenOrQuarantineAsync(dbPath, KontinuumStoreLimits.Create(), _services.TimeProvider,
                cancellationToken).ConfigureAwait(false);
            store = opened;
            if (quarantined is not null) LogStoreQuarantined(_logger, dbPath, quarantined);
        }
        store ??= new InMemoryDhtStore(KontinuumStoreLimits.Create());
        try
        {
            _dht = _transport.CreateDht(BuildDhtOptions(), store, _services.LoggerFactory, _services.MeterFactory);
        }
        catch
        {
            if (store is not null) await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        if (Admission is not null)
        {
            Admission.PeerRefused += OnPeerRefused;
            Admission.Start();
        }
        await _transport.ListenAsync([.. _options.ListenAddresses], cancellationToken).ConfigureAwait(false);
        await _dht.StartAsync(cancellationToken).ConfigureAwait(false);
        if (_crl is not null && _options.CrlRefreshInterval > TimeSpan.Zero)
        {
            await RefreshCrlAsync(cancellationToken).ConfigureAwait(false);
            _loops.StartPeriodic("crl-refresh", _options.CrlRefreshInterval, CrlRefreshRoundAsync);
        }
        if (_options.Certificate is { } certificate && _dht.Options.Mode == DhtMode.Server && _options.PublishNodeRecord)
        {
            var verification = Anchors?.VerifyCertificate(certificate, _crl);
            if (verification is { IsValid: false } failed)
            {
                // Every peer would refuse the record; say why instead of publishing it.
                LogOwnCertificateInvalid(_logger, failed.Status.ToString());
            }
            else
            {
                await PublishNodeRecordAsync(cancellationToken).ConfigureAwait(false);
                _loops.StartPeriodic("record-republish", _options.NodeRecordRepublishInterval, RepublishRoundAsync);
            }
        }
        foreach (var factory in _serviceFactories)
        {
            if (factory(this) is not { } service) continue;
            lock (_running) _running.Add(service);
            await service.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        LogStarted(_logger, PeerId, Network.Name, _dht.Options.Mode);
    }

    private DhtOptions BuildDhtOptions()
    {
        var options = _options;
        var network = options.Network;
        var mode = options.DhtMode
            ?? (options.ListenAddresses.Count > 0 && (options.Certificate is not null || !network.AdmissionEnforced) ? DhtMode.Server : DhtMode.Client);
        // With anchors, every record needs a Tier 0 signature: no /pk/ (anyone could fill it).
        var validators = new Dht.Records.RecordValidators(includePublicKeys: _crl is null);
        if (_crl is { } crl)
        {
            validators.Add(RecordKeys.NodeNamespace, new NodeRecordValidator(() => crl.Anchors, crl));
            validators.Add(RecordKeys.CrlNamespace, new CrlRecordValidator(() => crl.Anchors));
            validators.Add(KontinuumP2P.Mailbox.Health.SlotRecord.Namespace, new KontinuumP2P.Mailbox.Health.SlotRecordValidator(() => crl.Anchors, crl));
        }
        var dhtOptions = new DhtOptions
        {
            ProtocolId = network.KadProtocolId,
            Mode = mode,
            // /dnsaddr entries without a peer id are for the bootstrap dialer; the DHT joins through known ids.
            BootstrapPeers = [.. network.BootstrapPeers.Concat(options.ExtraBootstrapPeers).Where(a => a.PeerId is not null)],
            Validators = validators,
            Admission = Admission is null ? new AllowAllPeers() : new CertificatePeerAdmission(Admission),
            MayProvide = Admission is not { } admission ? static (_, _) => true : (peer, key) => ProviderEntitlement.MayProvide(admission, peer, key.Span),
        };
        return options.ConfigureDht?.Invoke(dhtOptions) ?? dhtOptions;
    }

    private void OnPeerRefused(object? sender, PeerRefusedEventArgs e)
    {
        var verdict = e.Verdict;
        _metrics.PeerRefused(verdict);
        // At once, not in a task: a revoked peer must not answer another lookup from our table.
        _dht?.RemovePeer(verdict.Peer);
        if (Host is { } host) _tasks.Run(token => host.DisconnectAsync(verdict.Peer, token).AsTask());
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2) return;
        await _loops.DisposeAsync().ConfigureAwait(false);
        await _tasks.DisposeAsync().ConfigureAwait(false);
        List<INodeService> services;
        lock (_running) services = [.. _running];
        for (var i = services.Count - 1; i >= 0; i--) await services[i].DisposeAsync().ConfigureAwait(false);
        if (Admission is not null) Admission.PeerRefused -= OnPeerRefused;
        if (_dht is not null) await _dht.DisposeAsync().ConfigureAwait(false);
        if (Admission is not null) await Admission.DisposeAsync().ConfigureAwait(false);
        if (_dht is not null) await _dht.Store.DisposeAsync().ConfigureAwait(false);
        await _transport.DisposeAsync().ConfigureAwait(false);
        _metrics.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "the DHT store {Path} was corrupt: moved to {Quarantine}, starting with an empty store (records are fetched again from the network)")]
    private static partial void LogStoreQuarantined(ILogger logger, string path, string quarantine);

    [LoggerMessage(Level = LogLevel.Information, Message = "node {PeerId} started on network {Network} (DHT {Mode})")]
    private static partial void LogStarted(ILogger logger, PeerId peerId, string network, DhtMode mode);

    [LoggerMessage(Level = LogLevel.Error, Message = "our own certificate does not verify against this network's anchors ({Status}): no node record is published")]
    private static partial void LogOwnCertificateInvalid(ILogger logger, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "node background task failed")]
    private static partial void LogBackgroundFailure(ILogger logger, Exception exception);
}
