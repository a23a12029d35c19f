using KontinuumP2P.Core.Resources;
using System.Collections.Concurrent;
using System.Reflection;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Net.Protocols;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Hosting;

/// <summary>
/// A libp2p host: listeners, the upgrade pipeline (multistream → Noise → Yamux), one reused connection per peer,
/// protocol handlers, identify/push and ping served by default, a bounded peer store, connection limits, idle close
/// and metrics. Every background task is owned and stopped by <see cref="DisposeAsync"/>.
/// </summary>
public sealed partial class PeerHost : IPeerHost
{
    private readonly ConcurrentDictionary<string, IProtocolHandler> _handlers = new(StringComparer.Ordinal);
    private readonly List<ITransportListener> _listeners = [];
    private readonly Lock _listenersLock = new();
    private readonly IdentifyService _identify;
    private readonly IConnectionSecurity? _ownedSecurity;
    private int _disposed;
    private int _pushScheduled;

    /// <summary>Creates a host; call <see cref="StartAsync"/> (or <see cref="ListenAsync"/>) to accept connections.</summary>
    /// <exception cref="ArgumentException">Invalid options.</exception>
    public PeerHost(PeerHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Logger = options.LoggerFactory.CreateLogger<PeerHost>();
        PeerId = options.Identity.PeerId;
        PublicKey = options.Identity.EncodedPublicKey;
        AgentVersion = options.AgentVersion ?? DefaultAgentVersion();
        _peerStore = new PeerStore(options.PeerStoreCapacity, options.PeerStoreSecondHandCapacity, options.SecondHandAddressTtl, options.TimeProvider);
        Tasks = new BackgroundTasks(e => HostLog.BackgroundTaskFailed(Logger, e));
        _budget = new ConnectionBudget(options);
        Metrics = new HostMetrics(options.MeterFactory, CountBytes, () => _budget.PendingHandshakes);
        var muxer = options.Muxer ?? DefaultUpgrades.CreateMuxer(options);
        _ownedSecurity = options.Security is null ? DefaultUpgrades.CreateSecurity(options, [muxer.ProtocolId]) : null;
        Resources = new ResourceManager(options.ResourceLimits, options.MeterFactory);
        _upgrader = new ConnectionUpgrader(options.Security ?? _ownedSecurity!, [muxer], Resources.OpenConnection);
        _identify = new IdentifyService(this);
        _handlers[IdentifyProtocol.Id] = _identify.IdentifyHandler;
        _handlers[IdentifyProtocol.PushId] = _identify.PushHandler;
        _handlers[PingProtocol.Id] = new PingProtocol();
        if (options.IdleConnectionTimeout != Timeout.InfiniteTimeSpan) Tasks.Run(IdleLoopAsync);
    }

    /// <summary>The options the host was built from.</summary>
    public PeerHostOptions Options { get; }

    /// <summary>The agent version sent in identify.</summary>
    public string AgentVersion { get; }

    /// <summary>The host's metrics.</summary>
    public HostMetrics Metrics { get; }

    /// <inheritdoc />
    public PeerId PeerId { get; }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> PublicKey { get; }

    /// <inheritdoc />
    public IReadOnlyList<Multiaddr> ListenAddresses
    {
        get
        {
            lock (_listenersLock) return [.. _listeners.Select(l => l.ListenAddress)];
        }
    }

    /// <inheritdoc />
    public IPeerStore PeerStore => _peerStore;

    /// <inheritdoc />
    public IReadOnlyCollection<string> Protocols => [.. _handlers.Keys.Order(StringComparer.Ordinal)];

    /// <inheritdoc />
    public TimeProvider TimeProvider => Options.TimeProvider;

    internal ILogger Logger { get; }

    internal BackgroundTasks Tasks { get; }

    /// <inheritdoc />
    public event EventHandler<PeerEventArgs>? PeerConnected;

    /// <inheritdoc />
    public event EventHandler<PeerEventArgs>? PeerDisconnected;

    /// <inheritdoc />
    public event EventHandler<PeerEventArgs>? PeerIdentified;

    /// <summary>Listens on <see cref="PeerHostOptions.ListenAddresses"/>.</summary>
    public ValueTask StartAsync(CancellationToken cancellationToken) => ListenAsync(Options.ListenAddresses, cancellationToken);

    /// <inheritdoc />
    public async ValueTask ListenAsync(IEnumerable<Multiaddr> addresses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        foreach (var address in addresses)
        {
            var transport = Options.Transports.FirstOrDefault(t => t.CanListen(address))
                ?? throw new ArgumentException($"no transport can listen on '{address}'", nameof(addresses));
            var listener = await transport.ListenAsync(address, cancellationToken).ConfigureAwait(false);
            lock (_listenersLock) _listeners.Add(listener);
            HostLog.Listening(Logger, listener.ListenAddress);
            if (!Tasks.Run(token => AcceptLoopAsync(listener, token)))
            {
                await listener.DisposeAsync().ConfigureAwait(false);
                throw new ObjectDisposedException(nameof(PeerHost));
            }
        }
        OnLocalChange();
    }

    /// <inheritdoc />
    public void SetHandler(string protocol, IProtocolHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(protocol);
        ArgumentNullException.ThrowIfNull(handler);
        if (protocol.Contains('\n') || protocol.Length >= Negotiation.MultistreamMessage.MaxLength)
            throw new ArgumentException($"'{protocol}' is not a valid protocol id", nameof(protocol));
        _handlers[protocol] = handler;
        OnLocalChange();
    }

    /// <summary>Serves <paramref name="protocol"/> with a delegate.</summary>
    public void SetHandler(string protocol, ProtocolHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        SetHandler(protocol, new DelegateHandler(handler));
    }

    /// <inheritdoc />
    public void RemoveHandler(string protocol)
    {
        if (_handlers.TryRemove(protocol, out _)) OnLocalChange();
    }

    /// <summary>Closes listeners, then every connection (GoAway, then the socket), then waits for all owned tasks.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        ITransportListener[] listeners;
        lock (_listenersLock)
        {
            listeners = [.. _listeners];
            _listeners.Clear();
        }
        foreach (var listener in listeners) await listener.DisposeAsync().ConfigureAwait(false);
        await CloseAllConnectionsAsync().ConfigureAwait(false);
        await Tasks.DisposeAsync().ConfigureAwait(false);
        if (_ownedSecurity is IDisposable security) security.Dispose();
        Metrics.Dispose();
        Resources.Dispose();
    }

    /// <summary>
    /// Streams and memory reserved per scope (system, peer, protocol, connection); Yamux streams and received bytes
    /// not yet read are counted, and a reservation over a limit is refused.
    /// </summary>
    public ResourceManager Resources { get; }

    internal bool HasHandler(string protocol) => _handlers.ContainsKey(protocol);

    internal IEnumerable<string> ListHandlers() => _handlers.Keys;

    internal IProtocolHandler? GetHandler(string protocol) => _handlers.GetValueOrDefault(protocol);

    internal int InboundLimitFor(string protocol) =>
        Options.InboundStreamLimits.TryGetValue(protocol, out var limit) ? limit : Options.MaxInboundStreamsPerProtocol;

    internal void RaisePeerIdentified(PeerId peer, IConnection? connection) => Raise(PeerIdentified, nameof(PeerIdentified), peer, connection);

    private void Raise(EventHandler<PeerEventArgs>? handler, string name, PeerId peer, IConnection? connection)
    {
        if (handler is null) return;
        try
        {
            handler(this, new PeerEventArgs(peer, connection));
        }
        catch (Exception e)
        {
            // A subscriber's bug must not tear down the connection bookkeeping that raised the event.
            HostLog.EventHandlerFailed(Logger, e, name);
        }
    }

    /// <summary>Our protocols or addresses changed: tell connected peers that accept identify push.</summary>
    private void OnLocalChange()
    {
        if (Interlocked.Exchange(ref _pushScheduled, 1) != 0) return;
        if (!Tasks.Run(async token =>
            {
                Volatile.Write(ref _pushScheduled, 0);
                await _identify.PushToAllAsync(token).ConfigureAwait(false);
            }))
        {
            Volatile.Write(ref _pushScheduled, 0);
        }
    }

    private async Task AcceptLoopAsync(ITransportListener listener, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            ITransportConnection raw;
            try
            {
                raw = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                // One failed accept (e.g. the peer reset before we took it) must not stop the listener.
                HostLog.AcceptFailed(Logger, listener.ListenAddress, e.Message);
                continue;
            }
            var (ipKey, subnetKey) = KeysOf(raw.RemoteAddress);
            var refusal = _budget.TryBeginInbound(ipKey, subnetKey);
            if (refusal is not null)
            {
                HostLog.InboundRefused(Logger, raw.RemoteAddress, refusal);
                Metrics.ConnectionRejected(Direction.Inbound, refusal);
                raw.Abort();
                await raw.DisposeAsync().ConfigureAwait(false);
                continue;
            }
            if (!Tasks.Run(token => UpgradeInboundAsync(raw, ipKey, subnetKey, token)))
            {
                _budget.EndHandshake(subnetKey);
                _budget.ReleaseInbound(ipKey);
                raw.Abort();
                await raw.DisposeAsync().ConfigureAwait(false);
                return;
            }
        }
    }

    private static string DefaultAgentVersion()
    {
        var assembly = typeof(PeerHost).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return "kontinuum/" + (plus >= 0 ? version[..plus] : version);
    }

    private sealed class DelegateHandler(ProtocolHandler handler) : IProtocolHandler
    {
        public ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken) => handler(stream, cancellationToken);
    }
}
