using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Net.Discovery.Bootstrap;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Net.Discovery;

/// <summary>
/// Connects a host to the peers a discovery mechanism reports: their addresses go into the peer store with the
/// announced TTL and the peer is dialed through <see cref="IPeerHost.ConnectAsync"/>, the host's normal path (so a
/// Kontinuum host's admission check applies exactly as for any other connection). Dials are bounded in parallelism
/// and a peer that failed is retried only after a jittered backoff, so re-announcements cannot hammer it.
/// </summary>
public sealed partial class DiscoveryDialer : IAsyncDisposable
{
    private const int MaxTrackedPeers = 4096;
    private readonly IPeerHost _host;
    private readonly IPeerDiscovery _discovery;
    private readonly BackoffPolicy _backoff;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _parallel;
    private readonly ConcurrentDictionary<PeerId, PeerState> _peers = new();
    private readonly Lock _randomGate = new();
    private readonly Random _random = new();
    private readonly BackgroundLoops _loops;
    private readonly BackgroundTasks _dials;
    private long _connected;
    private long _failed;
    private int _disposed;

    /// <summary>Creates the dialer.</summary>
    /// <param name="host">The host that connects.</param>
    /// <param name="discovery">The source of peers.</param>
    /// <param name="maxParallelDials">Dials in flight at most.</param>
    /// <param name="backoff">Retry delays of a peer that failed; null for 5 s growing to 5 min.</param>
    /// <param name="loggerFactory">Logging; null for none.</param>
    /// <param name="meterFactory">Metrics (the failure counter of the consuming loop); null for a private meter.</param>
    public DiscoveryDialer(IPeerHost host, IPeerDiscovery discovery, int maxParallelDials = 4, BackoffPolicy? backoff = null,
        ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
    {
        _host = host ?? throw new ArgumentNullException(nameof(host));
        _discovery = discovery ?? throw new ArgumentNullException(nameof(discovery));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxParallelDials, 1);
        _backoff = backoff ?? new BackoffPolicy(TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5));
        _backoff.Validate();
        _parallel = new SemaphoreSlim(maxParallelDials, maxParallelDials);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<DiscoveryDialer>();
        _loops = new BackgroundLoops("discovery-dialer", host.TimeProvider, _logger, meterFactory);
        _dials = new BackgroundTasks(e => DialerLog.DialCrashed(_logger, e));
    }

    /// <summary>The loop consuming the discovery stream: a failure is logged, counted and the loop restarted.</summary>
    internal BackgroundLoops Loops => _loops;

    /// <summary>Connections made so far.</summary>
    public long Connected => Interlocked.Read(ref _connected);

    /// <summary>Dials that failed so far.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Raised after a discovered peer was connected (on a background thread).</summary>
    public event EventHandler<DiscoveredPeer>? PeerConnected;

    /// <summary>Starts consuming the discovery stream.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _loops.Start("consume", RunAsync);
    }

    /// <summary>Stops consuming and waits for dials in flight.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _loops.DisposeAsync().ConfigureAwait(false);
        await _dials.DisposeAsync().ConfigureAwait(false);
        _parallel.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        await foreach (var peer in _discovery.DiscoverAsync(cancellationToken).ConfigureAwait(false))
        {
            if (peer.PeerId == _host.PeerId || peer.Addresses.Count == 0) continue;
            _host.PeerStore.AddSecondHandAddresses(peer.PeerId, peer.Addresses, peer.Ttl);
            if (_host.Connections.Any(c => c.RemotePeer == peer.PeerId && !c.IsClosed)) continue;
            var now = _host.TimeProvider.GetUtcNow();
            if (_peers.Count >= MaxTrackedPeers) PruneIdle(now);
            // Every tracked peer is dialing or backing off: leave the newcomer for a later announcement (the bound holds).
            if (_peers.Count >= MaxTrackedPeers && !_peers.ContainsKey(peer.PeerId)) continue;
            var state = _peers.GetOrAdd(peer.PeerId, _ => new PeerState());
            lock (state)
            {
                if (state.Dialing || state.NextAttempt > now) continue;
                state.Dialing = true;
            }
            if (!_dials.Run(token => DialAsync(peer, state, token)))
            {
                lock (state) state.Dialing = false; // stopping
            }
        }
    }

    private async Task DialAsync(DiscoveredPeer peer, PeerState state, CancellationToken cancellationToken)
    {
        try
        {
            await _parallel.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var connection = await _host.ConnectAsync(peer.PeerId, cancellationToken).ConfigureAwait(false);
                (_discovery as IDiscoveryFeedback)?.Connected(peer.PeerId, connection.RemoteAddress);
                Interlocked.Increment(ref _connected);
                lock (state) state.Failures = 0;
                DialerLog.Connected(_logger, peer.PeerId, peer.Source);
                PeerConnected?.Invoke(this, peer);
            }
            finally
            {
                _parallel.Release();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _failed);
            TimeSpan delay;
            lock (state) state.Failures++;
            lock (_randomGate) delay = _backoff.Next(state.Failures, _random);
            lock (state) state.NextAttempt = _host.TimeProvider.GetUtcNow() + delay;
            DialerLog.Failed(_logger, peer.PeerId, peer.Source, delay, e.Message);
        }
        finally
        {
            lock (state) state.Dialing = false;
        }
    }

    private void PruneIdle(DateTimeOffset now)
    {
        foreach (var (peer, state) in _peers)
        {
            lock (state)
            {
                if (!state.Dialing && state.NextAttempt <= now) _peers.TryRemove(peer, out _);
            }
        }
    }

    private sealed class PeerState
    {
        public bool Dialing { get; set; }
        public int Failures { get; set; }
        public DateTimeOffset NextAttempt { get; set; } = DateTimeOffset.MinValue;
    }

    private static partial class DialerLog
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "connected to {Peer} found by {Source}")]
        public static partial void Connected(ILogger logger, PeerId peer, DiscoverySource source);

        [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "dial of {Peer} found by {Source} failed, retry after {Delay}: {Reason}")]
        public static partial void Failed(ILogger logger, PeerId peer, DiscoverySource source, TimeSpan delay, string reason);

        [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "a discovery dial ended with an unexpected error")]
        public static partial void DialCrashed(ILogger logger, Exception exception);
    }
}
