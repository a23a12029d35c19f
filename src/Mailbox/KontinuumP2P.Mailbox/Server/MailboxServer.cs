using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Mailbox.Server;

/// <summary>
/// Serves <c>/kontinuum/mailbox/1.0.0</c> on a host from a <see cref="MailboxStore"/> it owns. Each inbound stream is
/// one session (Open first); every length, count and wait is bounded by <see cref="MailboxServerOptions"/>. The node
/// starts it only when its certificate carries the <c>mailbox</c> capability.
/// </summary>
public sealed partial class MailboxServer : IProtocolHandler, IAsyncDisposable
{
    private readonly IPeerHost _host;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<MailboxServerSession, byte> _sessions = new();
    private readonly ConcurrentDictionary<long, ConcurrentDictionary<MailboxServerSession, byte>> _subscribers = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Meter? _ownMeter;
    private readonly Counter<long> _refusals;
    private int _sessionCount;
    private int _stopped;

    private MailboxServer(IPeerHost host, MailboxServerOptions options, MailboxStore store, TimeProvider time, ILoggerFactory loggerFactory,
        IMeterFactory? meterFactory)
    {
        _host = host;
        Time = time;
        Options = options;
        Store = store;
        _logger = loggerFactory.CreateLogger<MailboxServer>();
        Limits = new MailboxLimits(options.Store.MaxBlobBytes, options.Store.MaxMailboxBytes, options.Store.MaxMailboxBlobs,
            options.MaxPullBlobs, options.MaxPullBytes, options.PushesPerMinute);
        Retention = new MailboxRetention(options.Store.Role, options.Store.MaxTtl, options.Store.DefaultTtl, options.Store.IdleExpiry);
        DeviceLimits = new DeviceRateLimits(options.MaxTrackedDevices, options.PushesPerMinute, time);
        var meter = meterFactory?.Create(MailboxStoreMetrics.MeterName) ?? (_ownMeter = new Meter(MailboxStoreMetrics.MeterName));
        _refusals = meter.CreateCounter<long>("kontinuum.mailbox.refusals", description: "Requests refused, by error code");
        meter.CreateObservableGauge("kontinuum.mailbox.sessions", () => Volatile.Read(ref _sessionCount), description: "Open sessions");
        store.Grown = OnGrown;
    }

    /// <summary>Opens the store and serves the protocol on <paramref name="host"/>.</summary>
    /// <param name="host">The host to serve on.</param>
    /// <param name="options">The options (validated here).</param>
    /// <param name="loggerFactory">Logging (no payload or id is ever logged).</param>
    /// <param name="meterFactory">Metrics.</param>
    /// <param name="timeProvider">The clock for timeouts, rate limits and retention (default: the host's).</param>
    /// <param name="cancellationToken">Cancels opening the store.</param>
    public static async Task<MailboxServer> StartAsync(IPeerHost host, MailboxServerOptions options, ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        loggerFactory ??= NullLoggerFactory.Instance;
        var time = timeProvider ?? host.TimeProvider;
        var store = await MailboxStore.OpenAsync(options.Store, time, loggerFactory, meterFactory, cancellationToken).ConfigureAwait(false);
        var server = new MailboxServer(host, options, store, time, loggerFactory, meterFactory);
        host.SetHandler(MailboxProtocol.ProtocolId, server);
        Log.Started(server._logger, options.Store.Role, store.Epoch);
        return server;
    }

    /// <summary>The options in force.</summary>
    public MailboxServerOptions Options { get; }

    /// <summary>The store (owned: disposed with the server).</summary>
    public MailboxStore Store { get; }

    /// <summary>The limits disclosed at Open.</summary>
    public MailboxLimits Limits { get; }

    /// <summary>The retention disclosed at Open.</summary>
    public MailboxRetention Retention { get; }

    /// <summary>Sessions open now.</summary>
    public int SessionCount => Volatile.Read(ref _sessionCount);

    internal DeviceRateLimits DeviceLimits { get; }

    internal ILogger Logger => _logger;

    internal TimeProvider Time { get; }

    internal bool IsStopping => _stopping.IsCancellationRequested;

    /// <inheritdoc />
    public async ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (Interlocked.Increment(ref _sessionCount) > Options.MaxSessions || IsStopping)
        {
            Interlocked.Decrement(ref _sessionCount);
            var code = IsStopping ? MailboxErrorCode.ShuttingDown : MailboxErrorCode.TooManySessions;
            Refused(code);
            await MailboxServerSession.RefuseAsync(stream, code, IsStopping ? "the server is stopping" : "the server has as many sessions as it serves",
                cancellationToken).ConfigureAwait(false);
            return;
        }
        var session = new MailboxServerSession(this, stream);
        _sessions[session] = 0;
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
            await session.RunAsync(linked.Token, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sessions.TryRemove(session, out _);
            Unsubscribe(session);
            Interlocked.Decrement(ref _sessionCount);
        }
    }

    internal void Refused(MailboxErrorCode code) => _refusals.Add(1, new KeyValuePair<string, object?>("code", code.ToString()));

    internal void Subscribe(long row, MailboxServerSession session) =>
        _subscribers.GetOrAdd(row, _ => new ConcurrentDictionary<MailboxServerSession, byte>())[session] = 0;

    private void Unsubscribe(MailboxServerSession session)
    {
        if (session.Mailbox is not { } handle || !_subscribers.TryGetValue(handle.Row, out var set)) return;
        set.TryRemove(session, out _);
        if (set.IsEmpty) _subscribers.TryRemove(new KeyValuePair<long, ConcurrentDictionary<MailboxServerSession, byte>>(handle.Row, set));
    }

    /// <summary>
    /// Marks the other sessions on mailbox <paramref name="row"/> (only those of <paramref name="deviceHex"/> when given)
    /// so each later request is refused with <paramref name="code"/>, and stops their notifications.
    /// </summary>
    internal void Revoke(long row, string? deviceHex, MailboxServerSession except, MailboxErrorCode code, string message)
    {
        foreach (var session in _sessions.Keys)
        {
            if (ReferenceEquals(session, except) || session.Mailbox is not { } handle || handle.Row != row) continue;
            if (deviceHex is not null && !string.Equals(Convert.ToHexString(handle.DeviceId.Span), deviceHex, StringComparison.Ordinal)) continue;
            session.Revoke(code, message);
            Unsubscribe(session);
        }
    }

    // Runs on the store's writer (or its flush task) once a commit is durable: only flags sessions, never blocks.
    private void OnGrown(IReadOnlyList<(long Row, ulong MaxCursor)> grown)
    {
        foreach (var (row, max) in grown)
        {
            if (!_subscribers.TryGetValue(row, out var set)) continue;
            foreach (var session in set.Keys) session.Notify(max);
        }
    }

    /// <summary>
    /// Stops serving: new streams and requests are answered SHUTTING_DOWN, requests in progress finish (up to
    /// <see cref="MailboxServerOptions.ShutdownTimeout"/>), then the store commits what it holds and closes.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        _host.RemoveHandler(MailboxProtocol.ProtocolId);
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_sessions.Keys.Select(s => s.Completion)).WaitAsync(Options.ShutdownTimeout, Time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            foreach (var session in _sessions.Keys) session.Abort();
            await Task.WhenAll(_sessions.Keys.Select(s => s.Completion)).ConfigureAwait(false);
        }
        await Store.DisposeAsync().ConfigureAwait(false);
        _ownMeter?.Dispose();
        _stopping.Dispose();
        Log.Stopped(_logger);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Mailbox server started ({Role}, epoch {Epoch:x16})")]
        public static partial void Started(ILogger logger, MailboxRole role, ulong epoch);

        [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Mailbox server stopped")]
        public static partial void Stopped(ILogger logger);
    }
}
