using System.Diagnostics.Metrics;
using System.Threading.Channels;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Net.Discovery.Dns;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Net.Discovery.Bootstrap;

/// <summary>
/// Keeps a host connected to its bootstrap peers: while fewer than <see cref="BootstrapOptions.MinConnections"/> peers
/// are connected it dials the bootstrap peers that are not, each on its own capped, jittered exponential backoff (so an
/// unreachable peer is tried ever more rarely and a fleet does not retry in lockstep), and reports every peer reached.
/// Dials go through <see cref="IPeerHost.DialAsync"/>, the host's normal path (upgrade, identity check, admission).
/// </summary>
public sealed class BootstrapDialer : IPeerDiscovery, IAsyncDisposable
{
    private const int MaxRecordedAttempts = 32;
    private readonly IPeerHost _host;
    private readonly MultiaddrResolver? _resolver;
    private readonly BootstrapOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Random _random;
    private readonly Lock _gate = new();
    private readonly Lock _randomGate = new();
    private readonly List<Target> _targets;
    private readonly List<DiscoveredPeer> _reached = [];
    private readonly DiscoveryBroadcaster _broadcaster = new();
    private readonly WakeSignal _wake = new();
    private readonly BackgroundLoops _loops;
    private int _disposed;

    /// <summary>Creates the dialer; skipped entries of <paramref name="list"/> are logged here.</summary>
    /// <param name="host">The host that dials.</param>
    /// <param name="list">Parsed bootstrap peers.</param>
    /// <param name="resolver">Resolves <c>/dns*</c> and <c>/dnsaddr</c> entries; null skips them at dial time.</param>
    /// <param name="options">Settings; null for defaults.</param>
    /// <param name="loggerFactory">Logging; null for none.</param>
    /// <param name="meterFactory">Metrics (the failure counter of the dial loop); null for a private meter.</param>
    public BootstrapDialer(IPeerHost host, BootstrapList list, MultiaddrResolver? resolver = null, BootstrapOptions? options = null,
        ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
    {
        _host = host ?? throw new ArgumentNullException(nameof(host));
        ArgumentNullException.ThrowIfNull(list);
        _resolver = resolver;
        _options = options ?? new BootstrapOptions();
        _options.Validate();
        _time = host.TimeProvider;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<BootstrapDialer>();
        _random = _options.RandomSeed is { } seed ? new Random(seed) : new Random();
        foreach (var problem in list.Problems) BootstrapLog.Skipped(_logger, problem);
        _targets = [.. list.Peers.Select(p => new Target(p))];
        _loops = new BackgroundLoops("bootstrap", _time, _logger, meterFactory);
    }

    /// <summary>The dial loop: a failure is logged, counted and the loop restarted after a delay.</summary>
    internal BackgroundLoops Loops => _loops;

    /// <summary>Per bootstrap peer: consecutive failures and the last 32 attempt times (for diagnostics and tests).</summary>
    public IReadOnlyList<(BootstrapPeer Peer, int Failures, IReadOnlyList<DateTimeOffset> Attempts)> State
    {
        get
        {
            lock (_gate) return [.. _targets.Select(t => (t.Peer, t.Failures, (IReadOnlyList<DateTimeOffset>)[.. t.Attempts]))];
        }
    }

    /// <summary>Starts the background loop.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _host.PeerDisconnected += OnPeerDisconnected;
        _loops.Start("dial", RunAsync);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<DiscoveredPeer> DiscoverAsync(CancellationToken cancellationToken)
    {
        Channel<DiscoveredPeer> channel;
        lock (_gate) channel = _broadcaster.Register([.. _reached]);
        return _broadcaster.ReadAsync(channel, cancellationToken);
    }

    /// <summary>Stops the loop; subscribers' streams end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _host.PeerDisconnected -= OnPeerDisconnected;
        await _loops.DisposeAsync().ConfigureAwait(false);
        _broadcaster.Complete();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(Jitter(_options.StartJitter), _time, cancellationToken).ConfigureAwait(false);
        using var parallel = new SemaphoreSlim(_options.MaxParallelDials, _options.MaxParallelDials);
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = _time.GetUtcNow();
            List<Target> due;
            bool enough;
            lock (_gate)
            {
                enough = ConnectedPeerCount() >= _options.MinConnections;
                due = enough ? [] : [.. _targets.Where(t => !IsConnected(t) && t.NextAttempt <= now)];
            }
            await Task.WhenAll(due.Select(t => AttemptAsync(t, parallel, cancellationToken))).ConfigureAwait(false);

            DateTimeOffset wakeAt;
            lock (_gate)
            {
                wakeAt = now + _options.CheckInterval;
                // With enough peers connected nothing is dialed, so an overdue target must not shorten the sleep:
                // it would make the wait zero and the loop spin until a connection drops.
                if (!enough)
                {
                    foreach (var t in _targets.Where(t => !IsConnected(t) && t.NextAttempt < wakeAt)) wakeAt = t.NextAttempt;
                }
            }
            await _wake.WaitAsync(wakeAt - _time.GetUtcNow(), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task AttemptAsync(Target target, SemaphoreSlim parallel, CancellationToken cancellationToken)
    {
        await parallel.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                if (target.Attempts.Count == MaxRecordedAttempts) target.Attempts.RemoveAt(0);
                target.Attempts.Add(_time.GetUtcNow());
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.DialTimeout);
            string? failure;
            try
            {
                failure = await DialAsync(target, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                failure = $"no connection within {_options.DialTimeout.TotalSeconds:0.#} s";
            }
            lock (_gate)
            {
                if (failure is null)
                {
                    target.Failures = 0;
                    target.NextAttempt = _time.GetUtcNow();
                    return;
                }
                target.Failures++;
                TimeSpan delay;
                lock (_randomGate) delay = _options.Backoff.Next(target.Failures, _random);
                target.NextAttempt = _time.GetUtcNow() + delay;
                BootstrapLog.Failed(_logger, Describe(target), target.Failures, delay, failure);
            }
        }
        finally
        {
            parallel.Release();
        }
    }

    /// <summary>Resolves and dials the target's addresses in order; null on success, else the reasons.</summary>
    private async Task<string?> DialAsync(Target target, CancellationToken cancellationToken)
    {
        var reasons = new List<string>();
        foreach (var address in target.Peer.Addresses)
        {
            IReadOnlyList<Multiaddr> candidates;
            if (!MultiaddrResolver.NeedsResolution(address)) candidates = [address];
            else if (_resolver is null)
            {
                reasons.Add($"{address}: no DNS resolver configured");
                continue;
            }
            else
            {
                try
                {
                    candidates = await _resolver.ResolveAsync(address, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is DnsResolutionException or DnsFormatException)
                {
                    reasons.Add($"{address}: {e.Message}");
                    continue;
                }
                if (candidates.Count == 0) reasons.Add($"{address}: resolved to no address");
            }
            foreach (var candidate in candidates.Where(c => c.PeerId is not null && c.ToTcpEndPoint() is not null))
            {
                try
                {
                    var connection = await _host.DialAsync(candidate, cancellationToken).ConfigureAwait(false);
                    Reached(target, connection.RemotePeer, candidate);
                    return null;
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    reasons.Add($"{candidate}: {e.Message}");
                }
            }
        }
        return reasons.Count == 0 ? "no dialable address" : string.Join("; ", reasons);
    }

    private void Reached(Target target, PeerId peer, Multiaddr address)
    {
        BootstrapLog.Connected(_logger, peer, address.ToString());
        var discovered = new DiscoveredPeer(peer, [address.WithoutPeerId()], DiscoverySource.Bootstrap, _options.AddressTtl);
        lock (_gate)
        {
            target.ConnectedPeer = peer;
            _reached.RemoveAll(p => p.PeerId == peer);
            _reached.Add(discovered);
            _broadcaster.Publish(discovered);
        }
    }

    private void OnPeerDisconnected(object? sender, PeerEventArgs e)
    {
        lock (_gate)
        {
            // Spread reconnects: every client of a restarted bootstrap node would otherwise redial at the same instant.
            foreach (var target in _targets.Where(t => t.ConnectedPeer == e.Peer || t.Peer.PeerId == e.Peer))
                target.NextAttempt = _time.GetUtcNow() + Jitter(_options.ReconnectJitter);
        }
        _wake.Set();
    }

    private bool IsConnected(Target target)
    {
        var peer = target.Peer.PeerId ?? target.ConnectedPeer;
        return peer is not null && _host.Connections.Any(c => c.RemotePeer == peer && !c.IsClosed);
    }

    private int ConnectedPeerCount() => _host.Connections.Where(c => !c.IsClosed).Select(c => c.RemotePeer).Distinct().Count();

    private TimeSpan Jitter(TimeSpan max)
    {
        lock (_randomGate) return TimeSpan.FromTicks((long)(_random.NextDouble() * max.Ticks));
    }

    private static string Describe(Target target) => target.Peer.PeerId?.ToString() ?? target.Peer.Addresses[0].ToString();

    private sealed class Target(BootstrapPeer peer)
    {
        public BootstrapPeer Peer { get; } = peer;
        public int Failures { get; set; }
        public DateTimeOffset NextAttempt { get; set; } = DateTimeOffset.MinValue;
        public PeerId? ConnectedPeer { get; set; }
        public List<DateTimeOffset> Attempts { get; } = [];
    }
}
