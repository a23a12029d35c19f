using System.Collections.Concurrent;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// Serves <c>/kontinuum/content/1.0.0</c> from a <see cref="ContentStore"/> it owns, beside a mailbox server: a
/// content may be begun and its chunks put only by a holder of a mailbox capability on this node (checked by the
/// mailbox store exactly as a mailbox Open), and fetched by anyone who knows its content id (which only the sealed
/// reference carries; the chunks are ciphertext). Every frame, range, wait and stream count is bounded.
/// </summary>
public sealed partial class ContentServer : IProtocolHandler, IAsyncDisposable
{
    private readonly IPeerHost _host;
    private readonly MailboxStore _mailboxes;
    private readonly ConcurrentDictionary<ContentServerSession, byte> _sessions = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _cleanup;
    private int _sessionCount;
    private long _chunksServed;
    private int _stopped;

    private ContentServer(IPeerHost host, ContentServerOptions options, ContentStore store, MailboxStore mailboxes, TimeProvider time, ILogger logger)
    {
        _host = host;
        _mailboxes = mailboxes;
        Options = options;
        Store = store;
        Time = time;
        Logger = logger;
        _cleanup = CleanupLoopAsync(_stopping.Token);
    }

    /// <summary>Opens the store and serves the protocol on <paramref name="host"/>.</summary>
    /// <param name="host">The host to serve on.</param>
    /// <param name="options">The options (validated here).</param>
    /// <param name="mailboxes">The node's mailbox store: its capabilities authorise puts.</param>
    /// <param name="loggerFactory">Logging (no key, id or payload is logged).</param>
    /// <param name="timeProvider">The clock for timeouts and TTLs (default: the host's).</param>
    public static ContentServer Start(IPeerHost host, ContentServerOptions options, MailboxStore mailboxes, ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(mailboxes);
        options.Validate();
        var time = timeProvider ?? host.TimeProvider;
        var store = ContentStore.Open(options.Store, time);
        var server = new ContentServer(host, options, store, mailboxes, time, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ContentServer>());
        host.SetHandler(ContentProtocol.ProtocolId, server);
        Log.Started(server.Logger, store.Count, store.Bytes);
        return server;
    }

    /// <summary>The options in force.</summary>
    public ContentServerOptions Options { get; }

    /// <summary>The store.</summary>
    public ContentStore Store { get; }

    /// <summary>Streams open now.</summary>
    public int SessionCount => Volatile.Read(ref _sessionCount);

    /// <summary>Chunks sent to fetchers since start (tests count what a resumed download fetched).</summary>
    internal long ChunksServed => Interlocked.Read(ref _chunksServed);

    internal void CountServed() => Interlocked.Increment(ref _chunksServed);

    internal TimeProvider Time { get; }

    internal ILogger Logger { get; }

    /// <summary>Called after each content stream ended, once it no longer counts in <see cref="SessionCount"/> (tests wait on it).</summary>
    internal Action? SessionEnded { get; set; }

    /// <summary>Called after each cleanup pass with the number of contents removed (tests wait on it).</summary>
    internal Action<int>? CleanupPassed { get; set; }

    /// <inheritdoc />
    public async ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var session = new ContentServerSession(this, stream);
        if (Interlocked.Increment(ref _sessionCount) > Options.MaxSessions || _stopping.IsCancellationRequested)
        {
            Interlocked.Decrement(ref _sessionCount);
            var code = _stopping.IsCancellationRequested ? ContentErrorCode.ShuttingDown : ContentErrorCode.TooManySessions;
            await session.RefuseAsync(code, "the node is not serving more content streams now", cancellationToken).ConfigureAwait(false);
            return;
        }
        _sessions[session] = 0;
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
            await session.RunAsync(linked.Token).ConfigureAwait(false);
        }
        finally
        {
            _sessions.TryRemove(session, out _);
            Interlocked.Decrement(ref _sessionCount);
            SessionEnded?.Invoke();
        }
    }

    /// <summary>Checks a mailbox capability the way a mailbox Open does (the first open of an unknown id creates it).</summary>
    internal async Task AuthoriseAsync(ReadOnlyMemory<byte> mailboxId, ReadOnlyMemory<byte> capability, ReadOnlyMemory<byte> deviceId, CancellationToken cancellationToken)
    {
        try
        {
            await _mailboxes.OpenMailboxAsync(mailboxId, capability, deviceId, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        }
        catch (MailboxException e)
        {
            throw new ContentException(e.Code == MailboxErrorCode.Unauthorized ? ContentErrorCode.Unauthorized : ContentErrorCode.QuotaExceeded,
                $"the mailbox refused: {e.Message}");
        }
    }

    private async Task CleanupLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Options.CleanupInterval, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    var removed = Store.RemoveExpired();
                    if (removed > 0) Log.Expired(Logger, removed);
                    CleanupPassed?.Invoke(removed);
                }
                catch (IOException e)
                {
                    Log.CleanupFailed(Logger, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>Stops serving: streams are cancelled (reset after <see cref="ContentServerOptions.ShutdownTimeout"/>). Acknowledged chunks are already on disk.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        _host.RemoveHandler(ContentProtocol.ProtocolId);
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _cleanup.ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_sessions.Keys.Select(s => s.Completion)).WaitAsync(Options.ShutdownTimeout, Time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            foreach (var session in _sessions.Keys) session.Abort();
            await Task.WhenAll(_sessions.Keys.Select(s => s.Completion)).ConfigureAwait(false);
        }
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "Content server started ({Contents} contents, {Bytes} bytes reserved)")]
        public static partial void Started(ILogger logger, int contents, long bytes);

        [LoggerMessage(EventId = 41, Level = LogLevel.Information, Message = "Content store dropped {Count} expired contents")]
        public static partial void Expired(ILogger logger, int count);

        [LoggerMessage(EventId = 42, Level = LogLevel.Warning, Message = "Content store cleanup failed")]
        public static partial void CleanupFailed(ILogger logger, Exception exception);
    }
}
