using System.Diagnostics.Metrics;
using System.Threading.Channels;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Dht;

/// <summary>
/// A Kademlia DHT node (libp2p kad-dht wire protocol) over an <see cref="IKadNetwork"/>: routing table, lookups,
/// value and provider records, maintenance. Create, <see cref="StartAsync"/>, use, <see cref="DisposeAsync"/>.
/// </summary>
public sealed partial class DhtNode : IAsyncDisposable
{
    private readonly IKadNetwork _network;
    private readonly IDisposable? _ownedNetwork;
    private readonly DhtOptions _options;
    private readonly IDhtStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DhtMetrics _metrics;
    private readonly RoutingTable _table;
    private readonly IAdmissionGeneration? _admissionGeneration;
    private readonly Lock _tableLock = new();
    private readonly Channel<RoutingCheck> _checks;
    private readonly HashSet<PeerId> _pendingChecks = [];
    private readonly Dictionary<PeerId, DateTimeOffset> _recentlyVerified = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly BackgroundLoops _loops;
    private readonly Random _random;
    private readonly Core.Limits.PeerRateLimiter _requestRate;
    private int _state; // 0 new, 1 started, 2 disposed

    /// <summary>Creates a node over a libp2p host.</summary>
    /// <param name="host">The host (its TimeProvider is used).</param>
    /// <param name="options">Settings; defaults when null.</param>
    /// <param name="store">Durable state; an in-memory store when null.</param>
    /// <param name="loggerFactory">Logging; none when null.</param>
    /// <param name="meterFactory">Metrics; a private meter when null.</param>
    public DhtNode(IPeerHost host, DhtOptions? options = null, IDhtStore? store = null, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
        : this(CreateHostNetwork(host, options ?? new DhtOptions()), options, store, loggerFactory, meterFactory, ownsNetwork: true)
    {
    }

    /// <summary>Creates a node over any <see cref="IKadNetwork"/> (simulators, tests).</summary>
    public DhtNode(IKadNetwork network, DhtOptions? options = null, IDhtStore? store = null, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
        : this(network, options, store, loggerFactory, meterFactory, ownsNetwork: false)
    {
    }

    private DhtNode(IKadNetwork network, DhtOptions? options, IDhtStore? store, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory, bool ownsNetwork)
    {
        _network = network;
        _ownedNetwork = ownsNetwork ? network as IDisposable : null;
        _options = options ?? new DhtOptions();
        _options.Lookup.Validate();
        _store = store ?? new InMemoryDhtStore();
        _time = network.TimeProvider;
        _logger = loggerFactory?.CreateLogger<DhtNode>() ?? NullLogger<DhtNode>.Instance;
        _admissionGeneration = _options.Admission as IAdmissionGeneration;
        _table = new RoutingTable(network.LocalPeer, _options.RoutingTable, MayServe) { MembershipChanged = network.SetProtected };
        _requestRate = new Core.Limits.PeerRateLimiter(_options.RequestsPerPeerPerSecond, _options.RequestBurstPerPeer, 4_096, _time);
        // A seed makes refresh keys reproducible (simulations); otherwise each node draws its own.
        _random = _options.RandomSeed is { } seed ? new Random(seed) : new Random();
        _checks = Channel.CreateBounded<RoutingCheck>(new BoundedChannelOptions(_options.VerificationQueueSize)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = false,
        });
        _metrics = new DhtMetrics(meterFactory, BucketSizes, () => _store.Counts.Records, () => _store.Counts.Providers);
        _loops = new BackgroundLoops("dht", _time, _logger, meterFactory);
    }

    /// <summary>Our peer id.</summary>
    public PeerId LocalPeer => _network.LocalPeer;

    /// <summary>The settings in force.</summary>
    public DhtOptions Options => _options;

    /// <summary>The store.</summary>
    public IDhtStore Store => _store;

    /// <summary>Number of routing-table entries.</summary>
    public int RoutingTableSize
    {
        get
        {
            lock (_tableLock) return _table.Count;
        }
    }

    /// <summary>Drops <paramref name="peer"/> from the routing table (e.g. its certificate was revoked); true when it was there.</summary>
    public bool RemovePeer(PeerId peer)
    {
        bool removed;
        lock (_tableLock) removed = _table.Remove(peer);
        if (removed) _logger.RoutingChange(peer, "removed");
        return removed;
    }

    /// <summary>A copy of the routing table.</summary>
    public IReadOnlyList<RoutingTableEntry> GetRoutingTable()
    {
        lock (_tableLock) return _table.Snapshot();
    }

    /// <summary>Entries in bucket <paramref name="index"/>.</summary>
    public int GetBucketSize(int index)
    {
        lock (_tableLock) return _table.BucketSize(index);
    }

    /// <summary>
    /// Starts serving (server mode), reseeds the routing table from the store's snapshot (each saved peer must answer
    /// again to re-enter), bootstraps from <see cref="DhtOptions.BootstrapPeers"/>, and starts maintenance.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) throw new InvalidOperationException("the DHT node was already started");
        if (_options.Mode == DhtMode.Server) _network.StartServing(HandleRequestAsync);
        _network.ServerPeerDiscovered += OnServerPeerDiscovered;
        for (var i = 0; i < 2; i++) _loops.Start($"routing-checks-{i}", RunChecksAsync);
        var snapshot = await _store.LoadRoutingSnapshotAsync(cancellationToken).ConfigureAwait(false);
        foreach (var entry in snapshot) _network.AddAddresses(entry.PeerId, entry.Addresses);
        await VerifyManyAsync(snapshot.Select(e => e.PeerId), cancellationToken).ConfigureAwait(false);
        _logger.Started(_options.Mode, _network.ProtocolId, RoutingTableSize);
        if (_options.BootstrapPeers.Count > 0 || RoutingTableSize > 0)
        {
            await BootstrapAsync(_options.BootstrapPeers, cancellationToken).ConfigureAwait(false);
        }
        _loops.Start("maintenance", RunMaintenanceAsync);
    }

    /// <summary>
    /// Joins through <paramref name="bootstrapPeers"/> (addresses ending in <c>/p2p/&lt;id&gt;</c>): each must answer to
    /// enter the table; then a self lookup and one random lookup per non-empty bucket.
    /// </summary>
    public async Task BootstrapAsync(IEnumerable<Multiaddr> bootstrapPeers, CancellationToken cancellationToken)
    {
        var peers = new List<PeerId>();
        foreach (var address in bootstrapPeers)
        {
            var peer = address.PeerId ?? throw new ArgumentException($"bootstrap address {address} has no /p2p/ peer id", nameof(bootstrapPeers));
            _network.AddAddresses(peer, [address.WithoutPeerId()]);
            peers.Add(peer);
        }
        await VerifyManyAsync(peers, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops serving and maintenance and saves the routing-table snapshot.</summary>
    public async ValueTask DisposeAsync()
    {
        var previous = Interlocked.Exchange(ref _state, 2);
        if (previous == 2) return;
        if (previous == 1)
        {
            if (_options.Mode == DhtMode.Server) _network.StopServing();
            _network.ServerPeerDiscovered -= OnServerPeerDiscovered;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        _checks.Writer.TryComplete();
        await _loops.DisposeAsync().ConfigureAwait(false);
        var snapshot = GetRoutingTable();
        if (previous == 1) await _store.SaveRoutingSnapshotAsync(snapshot, CancellationToken.None).ConfigureAwait(false);
        _logger.Stopped(snapshot.Count);
        _metrics.Dispose();
        _ownedNetwork?.Dispose();
        _stopping.Dispose();
    }

    private static HostKadNetwork CreateHostNetwork(IPeerHost host, DhtOptions options) =>
        new(host, options.ProtocolId, options.InboundIdleTimeout);

    private IEnumerable<Measurement<int>> BucketSizes()
    {
        List<(int Index, int Size)> sizes;
        lock (_tableLock) sizes = [.. _table.NonEmptyBuckets().Select(i => (i, _table.BucketSize(i)))];
        foreach (var (index, size) in sizes) yield return new Measurement<int>(size, new KeyValuePair<string, object?>("bucket", index));
    }

    /// <summary>A peer answered a request of ours: it is a server; try to add it.</summary>
    private void OnAnswered(PeerId peer)
    {
        if (peer == LocalPeer) return;
        switch (_options.Admission.GetState(peer))
        {
            case PeerAdmissionState.Admitted:
                break;
            case PeerAdmissionState.Pending:
                // Its verdict is on the way: the check queue waits for it, then verifies the peer again.
                Enqueue(new RoutingCheck(peer, RoutingCheckKind.Verify));
                return;
            default:
                return;
        }
        RoutingTableAddResult result;
        var observed = _network.GetObservedAddresses(peer);
        lock (_tableLock) result = _table.TryAdd(peer, _network.GetAddresses(peer), _time.GetUtcNow(), observed);
        switch (result.Status)
        {
            case RoutingTableAddStatus.Added:
                _logger.RoutingChange(peer, "added");
                break;
            case RoutingTableAddStatus.AddedReplacingFarther:
                _logger.RoutingChange(peer, "added in place of a farther entry");
                break;
            case RoutingTableAddStatus.BucketFull when result.LeastRecentlySeen is { } oldest && IsStale(oldest):
                // Kademlia pings the least-recently-seen entry; one heard from within the liveness window is known to
                // be alive, so the newcomer just waits in the replacement cache (go-libp2p and rust-libp2p do not ping
                // live entries either).
                Enqueue(new RoutingCheck(oldest, RoutingCheckKind.PingBeforeEviction));
                break;
        }
    }

    /// <summary>A request to a table entry failed: ping it once more and evict it when that fails too.</summary>
    private void OnRequestFailed(PeerId peer)
    {
        bool present;
        lock (_tableLock) present = _table.Contains(peer);
        if (present) Enqueue(new RoutingCheck(peer, RoutingCheckKind.PingBeforeEviction));
    }

    /// <summary>A peer that may be a server (it sent us a request, or identify says so): verify it with a request.</summary>
    private void OnCandidate(PeerId peer)
    {
        if (peer == LocalPeer || _options.Admission.GetState(peer) is PeerAdmissionState.Refused or PeerAdmissionState.QueryOnly) return;
        var now = _time.GetUtcNow();
        lock (_tableLock)
        {
            // An entry that contacts us is alive (Kademlia updates the bucket on every message); a stranger is
            // verified only if it could enter the table: most requests come from peers whose bucket is full.
            if (_table.MarkSeen(peer, now)) return;
            if (!_table.CouldEnter(peer, now - _options.RefreshInterval)) return;
        }
        lock (_pendingChecks)
        {
            // A candidate verified lately (and left out, e.g. because its bucket is full) is not asked again soon.
            if (_recentlyVerified.TryGetValue(peer, out var last) && now - last < _options.RefreshInterval) return;
            if (_recentlyVerified.Count >= _options.VerificationQueueSize * 16) _recentlyVerified.Clear();
            _recentlyVerified[peer] = now;
        }
        Enqueue(new RoutingCheck(peer, RoutingCheckKind.Verify));
    }

    /// <summary>
    /// Whether a table entry was last heard from longer ago than the liveness window (the refresh interval), so that
    /// a newcomer may be worth a ping that could evict it.
    /// </summary>
    private bool IsStale(PeerId peer)
    {
        lock (_tableLock) return _table.IsStale(peer, _time.GetUtcNow() - _options.RefreshInterval);
    }

    private void OnServerPeerDiscovered(object? sender, PeerId peer) => OnCandidate(peer);

    private void Enqueue(RoutingCheck check)
    {
        lock (_pendingChecks)
        {
            if (_pendingChecks.Count >= _options.VerificationQueueSize || !_pendingChecks.Add(check.Peer)) return;
        }
        if (!_checks.Writer.TryWrite(check))
        {
            lock (_pendingChecks) _pendingChecks.Remove(check.Peer);
        }
    }

    private async Task RunChecksAsync(CancellationToken cancellationToken)
    {
        await foreach (var check in _checks.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (check.Kind == RoutingCheckKind.Verify
                && await _options.Admission.WaitForDecisionAsync(check.Peer, cancellationToken).ConfigureAwait(false) != PeerAdmissionState.Admitted)
            {
                lock (_pendingChecks) _pendingChecks.Remove(check.Peer);
                continue;
            }
            var answered = await PingAsync(check.Peer, cancellationToken).ConfigureAwait(false);
            lock (_pendingChecks) _pendingChecks.Remove(check.Peer);
            if (check.Kind == RoutingCheckKind.Verify)
            {
                if (answered) OnAnswered(check.Peer);
                continue;
            }
            // A peer that answers but is no longer admitted (revoked, expired) goes as if it had not answered.
            var keep = answered && MayServe(check.Peer);
            bool changed;
            lock (_tableLock) changed = keep ? _table.MarkSeen(check.Peer, _time.GetUtcNow()) : _table.Remove(check.Peer);
            if (changed && !keep) _logger.RoutingChange(check.Peer, "evicted");
        }
    }

    /// <summary>Liveness and server check: a FIND_NODE for our own id (PING is deprecated in the spec).</summary>
    private async Task<bool> PingAsync(PeerId peer, CancellationToken cancellationToken)
    {
        var response = await SendAsync(peer, KadMessage.Request(KadMessageType.FindNode, LocalPeer.ToByteArray()), cancellationToken).ConfigureAwait(false);
        if (response is null) return false;
        _network.AddAddresses(response.CloserPeers);
        return true;
    }

    private async Task VerifyManyAsync(IEnumerable<PeerId> peers, CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(8);
        var tasks = peers.Where(p => p != LocalPeer).Distinct().Select(async peer =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (await PingAsync(peer, cancellationToken).ConfigureAwait(false))
                {
                    // Joining waits for the verdict (certificate exchange) so that the table is usable on return.
                    if (_options.Admission.GetState(peer) == PeerAdmissionState.Pending)
                        await _options.Admission.WaitForDecisionAsync(peer, cancellationToken).ConfigureAwait(false);
                    OnAnswered(peer);
                }
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private enum RoutingCheckKind { Verify, PingBeforeEviction }

    private readonly record struct RoutingCheck(PeerId Peer, RoutingCheckKind Kind);
}
