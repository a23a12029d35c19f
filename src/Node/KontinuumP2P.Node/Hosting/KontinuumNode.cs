using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Storage;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;
using KontinuumP2P.Node.Admission;
using KontinuumP2P.Node.Networks;
using KontinuumP2P.Node.Records;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Node.Hosting;

/// <summary>
/// A Kontinuum node: a libp2p host, admission control, the DHT with the <c>/node/</c> and <c>/crl/</c> validators, our
/// node record kept published and the CRL kept fresh. Start with <see cref="StartAsync"/>, stop with
/// <see cref="DisposeAsync"/>. Cheap enough that the simulator runs hundreds in one process.
/// </summary>
public sealed partial class KontinuumNode : IAsyncDisposable
{
    private readonly KontinuumNodeOptions _options;
    private readonly ILogger _logger;
    private readonly BackgroundTasks _tasks;
    private readonly CrlTracker? _crl;
    private readonly NodeMetrics _metrics;
    private ulong _recordSequence;

    private KontinuumNode(KontinuumNodeOptions options, Host host, CrlTracker? crl, CertificateAdmission? admission, DhtNode dht)
    {
        _options = options;
        _logger = options.LoggerFactory.CreateLogger<KontinuumNode>();
        _tasks = new BackgroundTasks(e => LogBackgroundFailure(_logger, e));
        Host = host;
        _crl = crl;
        Admission = admission;
        Dht = dht;
        // Sequence numbers from the clock survive restarts without state: a restarted node's record still wins.
        _recordSequence = (ulong)options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        StartedAt = options.TimeProvider.GetUtcNow();
        _metrics = new NodeMetrics(this, options.MeterFactory);
    }

    /// <summary>Our peer id.</summary>
    public PeerId PeerId => Host.PeerId;

    /// <summary>The network joined.</summary>
    public NetworkDefinition Network => _options.Network;

    /// <summary>The libp2p host.</summary>
    public IHost Host { get; }

    /// <summary>The DHT.</summary>
    public DhtNode Dht { get; }

    /// <summary>Admission control; null on the open network.</summary>
    public CertificateAdmission? Admission { get; }

    /// <summary>The anchors in force; null on the open network.</summary>
    public TrustAnchors? Anchors => _crl?.Anchors;

    /// <summary>The CRL in force, when one was accepted.</summary>
    public Crl? CurrentCrl => _crl?.Current;

    /// <summary>True when the CRL in force is past its next_update.</summary>
    public bool CrlIsStale => _crl?.IsStale ?? false;

    /// <summary>Whether the node runs with a certificate.</summary>
    public bool HasCertificate => _options.Certificate is not null;

    /// <summary>When the node was started.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>Sequence number of the last node record we signed (a clock value before the first).</summary>
    public ulong RecordSequence => Interlocked.Read(ref _recordSequence);

    /// <summary>Where the node listens (without <c>/p2p/</c>).</summary>
    public IReadOnlyList<Multiaddr> ListenAddresses => Host.ListenAddresses;

    /// <summary>Builds and starts a node: listens, joins the DHT, publishes our record, starts CRL refresh.</summary>
    /// <exception cref="System.ComponentModel.DataAnnotations.ValidationException">Invalid options; the message names the setting.</exception>
    public static async Task<KontinuumNode> StartAsync(KontinuumNodeOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var network = options.Network;
        var host = new Host(new HostOptions
        {
            Identity = options.Identity!,
            Transports = options.Transports.Count > 0 ? [.. options.Transports] : [new TcpTransport()],
            ListenAddresses = [.. options.ListenAddresses],
            TimeProvider = options.TimeProvider,
            LoggerFactory = options.LoggerFactory,
            MeterFactory = options.MeterFactory,
        });
        CrlTracker? crl = null;
        CertificateAdmission? admission = null;
        IDhtStore? store = null;
        KontinuumNode? node = null;
        try
        {
            if (network.Anchors is { } anchorSet)
            {
                var anchors = TrustAnchors.Create(anchorSet, options.TimeProvider);
                ICrlStateStore crlState = options.DataDirectory is null
                    ? new VolatileCrlStateStore()
                    : new CrlStateFile(Path.Combine(options.DataDirectory, "crl-state.json"));
                crl = new CrlTracker(anchors, crlState, options.TimeProvider);
                var tracker = crl;
                admission = new CertificateAdmission(host, network, () => tracker.Anchors, tracker, options.Certificate,
                    options.CertificateOfferTimeout, options.LoggerFactory.CreateLogger<CertificateAdmission>(), options.AdmissionLimits);
            }
            if (options.DataDirectory is not null)
            {
                Directory.CreateDirectory(options.DataDirectory);
                var dbPath = Path.Combine(options.DataDirectory, "dht.db");
                var (opened, quarantined) = await SqliteDhtStore.OpenOrQuarantineAsync(dbPath, KontinuumStoreLimits.Create(), options.TimeProvider,
                    cancellationToken).ConfigureAwait(false);
                store = opened;
                if (quarantined is not null) LogStoreQuarantined(options.LoggerFactory.CreateLogger<KontinuumNode>(), dbPath, quarantined);
            }
            store ??= new InMemoryDhtStore(KontinuumStoreLimits.Create());
            var dht = new DhtNode(host, BuildDhtOptions(options, crl, admission), store, options.LoggerFactory, options.MeterFactory);
            node = new KontinuumNode(options, host, crl, admission, dht);
            await node.StartCoreAsync(cancellationToken).ConfigureAwait(false);
            return node;
        }
        catch
        {
            // Once the node exists it owns the DHT, store, admission and host: its disposal stops them all.
            if (node is not null)
            {
                await node.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            if (store is not null) await store.DisposeAsync().ConfigureAwait(false);
            if (admission is not null) await admission.DisposeAsync().ConfigureAwait(false);
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static DhtOptions BuildDhtOptions(KontinuumNodeOptions options, CrlTracker? crl, CertificateAdmission? admission)
    {
        var network = options.Network;
        var mode = options.DhtMode
            ?? (options.ListenAddresses.Count > 0 && (options.Certificate is not null || !network.AdmissionEnforced) ? DhtMode.Server : DhtMode.Client);
        // With anchors, every record needs a Tier 0 signature: no /pk/ (anyone could fill it).
        var validators = new Dht.Records.RecordValidators(includePublicKeys: crl is null);
        if (crl is not null)
        {
            validators.Add(RecordKeys.NodeNamespace, new NodeRecordValidator(() => crl.Anchors, crl));
            validators.Add(RecordKeys.CrlNamespace, new CrlRecordValidator(() => crl.Anchors));
        }
        var dhtOptions = new DhtOptions
        {
            ProtocolId = network.KadProtocolId,
            Mode = mode,
            // /dnsaddr entries without a peer id are for the bootstrap dialer; the DHT joins through known ids.
            BootstrapPeers = [.. network.BootstrapPeers.Concat(options.ExtraBootstrapPeers).Where(a => a.PeerId is not null)],
            Validators = validators,
            Admission = admission is null ? new AllowAllPeers() : new CertificatePeerAdmission(admission),
            MayProvide = admission is null ? static (_, _) => true : (peer, key) => ProviderEntitlement.MayProvide(admission, peer, key.Span),
        };
        return options.ConfigureDht?.Invoke(dhtOptions) ?? dhtOptions;
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        Admission?.Start();
        if (Admission is not null) Admission.PeerRefused += OnPeerRefused;
        if (_options.ListenAddresses.Count > 0)
            await Host.ListenAsync(_options.ListenAddresses, cancellationToken).ConfigureAwait(false);
        await Dht.StartAsync(cancellationToken).ConfigureAwait(false);
        StartDiscovery();
        await StartMailboxAsync(cancellationToken).ConfigureAwait(false);
        if (_crl is not null)
        {
            await RefreshCrlAsync(cancellationToken).ConfigureAwait(false);
            _tasks.Run(CrlRefreshLoopAsync);
        }
        if (_options.Certificate is { } certificate && Dht.Options.Mode == DhtMode.Server)
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
                _tasks.Run(RepublishLoopAsync);
            }
        }
        LogStarted(_logger, PeerId, Network.Name, Dht.Options.Mode);
    }

    private void OnPeerRefused(object? sender, AdmissionVerdict verdict)
    {
        _metrics.PeerRefused(verdict);
        _tasks.Run(async token =>
        {
            Dht.RemovePeer(verdict.Peer);
            await Host.DisconnectAsync(verdict.Peer, token).ConfigureAwait(false);
        });
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _tasks.DisposeAsync().ConfigureAwait(false);
        await StopDiscoveryAsync().ConfigureAwait(false);
        if (Admission is not null) Admission.PeerRefused -= OnPeerRefused;
        await StopMailboxAsync().ConfigureAwait(false);
        await Dht.DisposeAsync().ConfigureAwait(false);
        if (Admission is not null) await Admission.DisposeAsync().ConfigureAwait(false);
        await Dht.Store.DisposeAsync().ConfigureAwait(false);
        await Host.DisposeAsync().ConfigureAwait(false);
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
