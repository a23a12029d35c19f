using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Resources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Net.Muxing;

/// <summary>
/// A yamux 1.0.0 session (<c>/yamux/1.0.0</c>) over a secured byte stream, wire-compatible with js-libp2p and
/// go-libp2p. One read loop parses frames and feeds the streams' receive pipes; one write loop serialises control
/// frames and the streams' data straight into the connection's output, coalescing frames per flush.
/// </summary>
/// <remarks>
/// The dialer of the connection is the client (odd stream ids from 1); the listener is the server (even ids from 2).
/// The session owns the connection's pipes and completes them when it ends.
/// </remarks>
internal sealed partial class YamuxSession : IStreamMuxer
{
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly ILogger _logger;
    private readonly YamuxMetrics? _metrics;
    private readonly MemoryPool<byte> _pool = MemoryPool<byte>.Shared;
    private readonly Dictionary<uint, YamuxStream> _streams = [];
    private readonly Lock _streamsLock = new();
    private readonly Channel<YamuxStream> _acceptQueue;
    private readonly Channel<OutboundItem> _outbox;
    private readonly SemaphoreSlim _controlSlots;
    // Serialises writers of _output: the write loop, and a stream sending straight from its caller's buffer.
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    // Items in _outbox (a single-reader channel cannot count them): inline writers step aside while any wait.
    private int _queuedItems;
    private readonly CancellationTokenSource _lifetime;
    private readonly Task _readLoop;
    private readonly Task _writeLoop;
    private readonly Task _keepAliveLoop;
    private readonly Task _completion;
    private long _nextOutboundId;
    private int _inboundCount;
    private int _outboundCount;
    private int _closing;
    private volatile bool _remoteGoAway;
    private Exception? _endReason;

    /// <summary>Starts a session; its loops run until the connection ends, <see cref="CloseAsync"/> or <see cref="Abort"/>.</summary>
    /// <param name="connection">The secured connection (or any duplex pipe); the session completes both its pipes at the end.</param>
    /// <param name="isClient">True on the side that dialed the connection (odd stream ids).</param>
    /// <param name="options">Limits and timings; null for the defaults.</param>
    /// <param name="logger">Logger; null for none.</param>
    /// <param name="metrics">Shared instruments; null for none.</param>
    /// <param name="resources">The connection's resource scope (streams and received bytes are reserved in it); the session disposes it when it ends.</param>
    public YamuxSession(IDuplexPipe connection, bool isClient, YamuxOptions? options = null, ILogger? logger = null,
        YamuxMetrics? metrics = null, ResourceScope? resources = null)
    {
        Resources = resources;
        ArgumentNullException.ThrowIfNull(connection);
        Options = options ?? new YamuxOptions();
        Options.Validate();
        IsClient = isClient;
        Time = Options.TimeProvider;
        _input = connection.Input;
        _output = connection.Output;
        _logger = logger ?? NullLogger.Instance;
        _metrics = metrics;
        _nextOutboundId = isClient ? 1 : 2;
        _acceptQueue = Channel.CreateBounded<YamuxStream>(new BoundedChannelOptions(Options.AcceptBacklog)
        {
            FullMode = BoundedChannelFullMode.Wait,
        });
        _outbox = Channel.CreateUnbounded<OutboundItem>(new UnboundedChannelOptions
        {
            SingleReader = true,
            AllowSynchronousContinuations = false,
        });
        _controlSlots = new SemaphoreSlim(Options.MaxPendingControlFrames, Options.MaxPendingControlFrames);
        // Every way out of the session cancels this source, which also releases its CancelAfter timer.
        _lifetime = new CancellationTokenSource(Timeout.InfiniteTimeSpan, Time);
        var token = _lifetime.Token;
        if (Options.PingOnStart) TrySendPing();
        _readLoop = Task.Run(() => ReadLoopAsync(token), CancellationToken.None);
        _writeLoop = Task.Run(() => WriteLoopAsync(token), CancellationToken.None);
        _keepAliveLoop = Options.KeepAliveInterval > TimeSpan.Zero
            ? Task.Run(() => KeepAliveLoopAsync(token), CancellationToken.None)
            : Task.CompletedTask;
        _completion = RunAsync();
    }

    /// <summary>Test hook: runs between an outbound id's allocation and the scheduling of its SYN.</summary>
    internal Action<uint>? OnOutboundIdAllocated { get; set; }

    /// <summary>The connection's resource scope, if any.</summary>
    internal ResourceScope? Resources { get; }

    /// <summary>True when this side dialed the connection and uses odd stream ids.</summary>
    public bool IsClient { get; }

    /// <summary>The options in force.</summary>
    public YamuxOptions Options { get; }

    /// <summary>The latest measured ping round trip; zero until a ping was answered.</summary>
    public TimeSpan RoundTripTime => TimeSpan.FromTicks(Volatile.Read(ref _roundTripTicks));

    /// <summary>Whether the remote announced GoAway (no new streams may be opened).</summary>
    public bool RemoteGoAway => _remoteGoAway;

    /// <inheritdoc />
    public Task Completion => _completion;

    /// <inheritdoc />
    public int ActiveStreams
    {
        get { lock (_streamsLock) return _streams.Count; }
    }

    internal TimeProvider Time { get; }

    /// <inheritdoc />
    public ValueTask<IMuxedStream> OpenStreamAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Volatile.Read(ref _closing) != 0 || _lifetime.IsCancellationRequested)
            throw new IOException("the yamux session is closed");
        if (_remoteGoAway) throw new IOException("the remote sent GoAway; it accepts no new streams");
        YamuxStream stream;
        lock (_streamsLock)
        {
            if (_outboundCount >= Options.MaxOutboundStreams)
                throw new IOException($"outbound stream limit of {Options.MaxOutboundStreams} reached");
            if (_nextOutboundId > uint.MaxValue) throw new IOException("yamux stream ids exhausted");
            if (Resources?.TryAddStream() is { } refusal)
                throw new ResourceLimitExceededException(refusal, $"cannot open a stream: the {refusal} limit is reached");
            stream = new YamuxStream(this, (uint)_nextOutboundId, outbound: true, Options, _pool);
            _nextOutboundId += 2;
            _streams.Add(stream.Id, stream);
            _outboundCount++;
            OnOutboundIdAllocated?.Invoke(stream.Id);
            // Scheduled under the lock so SYNs leave in id order: the remote refuses an id below one it has seen.
            stream.ScheduleWrite();
        }
        _metrics?.StreamOpened(outbound: true);
        return ValueTask.FromResult<IMuxedStream>(stream);
    }

    /// <inheritdoc />
    public async ValueTask<IMuxedStream?> AcceptStreamAsync(CancellationToken cancellationToken)
    {
        var reader = _acceptQueue.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!reader.TryRead(out var stream)) continue;
            stream.MarkAccepted();
            return stream;
        }
        return null;
    }

    /// <inheritdoc />
    public async ValueTask CloseAsync(CancellationToken cancellationToken)
    {
        BeginClose(YamuxGoAwayCode.Normal, null);
        await _completion.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Abort() => Shutdown(new IOException("the yamux session was aborted"));

    /// <summary>Closes gracefully (GoAway, bounded by <see cref="YamuxOptions.CloseTimeout"/>) and waits for the end.</summary>
    public async ValueTask DisposeAsync()
    {
        BeginClose(YamuxGoAwayCode.Normal, null);
        await _completion.ConfigureAwait(false);
    }

    /// <summary>
    /// Takes the connection's output for a stream writing inline, without waiting; false when the write loop or
    /// another stream has it, when other frames wait in the queue (they go first, which keeps streams fair), or when
    /// the session is ending. The caller must <see cref="EndInlineWrite"/>.
    /// </summary>
    internal bool TryBeginInlineWrite()
    {
        if (Volatile.Read(ref _queuedItems) != 0 || _lifetime.IsCancellationRequested) return false;
        if (!_writeLock.Wait(0)) return false;
        if (Volatile.Read(ref _queuedItems) == 0 && !_lifetime.IsCancellationRequested) return true;
        _writeLock.Release();
        return false;
    }

    /// <summary>Gives the connection's output back after <see cref="TryBeginInlineWrite"/>.</summary>
    internal void EndInlineWrite() => _writeLock.Release();

    /// <summary>The connection's output, for a stream holding it through <see cref="TryBeginInlineWrite"/>.</summary>
    internal System.IO.Pipelines.PipeWriter InlineOutput => _output;

    /// <summary>Cancelled when the session ends; bounds an inline writer's wait on the connection.</summary>
    internal CancellationToken Lifetime => _lifetime.Token;

    private bool Enqueue(OutboundItem item)
    {
        Interlocked.Increment(ref _queuedItems);
        if (_outbox.Writer.TryWrite(item)) return true;
        Interlocked.Decrement(ref _queuedItems);
        return false;
    }

    internal void Schedule(YamuxStream stream) => Enqueue(OutboundItem.ForStream(stream));

    internal void OnStreamClosed(YamuxStream stream, bool reset)
    {
        lock (_streamsLock)
        {
            if (!_streams.Remove(stream.Id)) return;
            if (stream.IsOutbound) _outboundCount--;
            else _inboundCount--;
        }
        Resources?.RemoveStream();
        _metrics?.StreamClosed(reset);
    }

    internal YamuxStream? FindStream(uint id)
    {
        lock (_streamsLock) return _streams.GetValueOrDefault(id);
    }

    /// <summary>Queues a final GoAway; the write loop flushes it and ends the session (or the close timeout does).</summary>
    private void BeginClose(YamuxGoAwayCode code, Exception? reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0) return;
        Interlocked.CompareExchange(ref _endReason, reason, null);
        var goAway = YamuxHeader.Create(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)code);
        // A peer that does not read could hold the GoAway back for ever: the close timeout ends the session anyway.
        if (Enqueue(OutboundItem.Final(goAway))) _lifetime.CancelAfter(Options.CloseTimeout);
    }

    /// <summary>Stops every loop now; the streams are reset once the loops have returned.</summary>
    private void Shutdown(Exception? reason)
    {
        Interlocked.CompareExchange(ref _endReason, reason, null);
        _outbox.Writer.TryComplete();
        _lifetime.Cancel();
    }

    private async Task RunAsync()
    {
        // The loops catch their own failures, so this never throws.
        await Task.WhenAll(_readLoop, _writeLoop, _keepAliveLoop).ConfigureAwait(false);
        // An inline writer still inside gives up promptly (its flush waits on the cancelled lifetime). The lock is
        // kept from here on, so no stream touches its send pipe or the output while they are completed.
        await _writeLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        var reason = _endReason;
        var error = new StreamResetException("the yamux session ended", reason ?? new IOException("session closed"));
        YamuxStream[] streams;
        lock (_streamsLock)
        {
            streams = [.. _streams.Values];
            _streams.Clear();
            _inboundCount = 0;
            _outboundCount = 0;
        }
        foreach (var stream in streams)
        {
            stream.Abort(error);
            _metrics?.StreamClosed(reset: true);
        }
        // Streams closed earlier may still wait for the write loop to release their send pipes.
        while (_outbox.Reader.TryRead(out var item)) item.Stream?.Abort(error);
        _acceptQueue.Writer.TryComplete();
        while (_acceptQueue.Reader.TryRead(out var queued)) queued.Abort(error);
        await _input.CompleteAsync().ConfigureAwait(false);
        await _output.CompleteAsync().ConfigureAwait(false);
        // Releases whatever streams and bytes are still counted against the peer and the system.
        Resources?.Dispose();
        YamuxLog.SessionEnded(_logger, reason?.Message ?? "closed");
    }

    /// <summary>What the write loop has to do next: serve a stream, write a control frame, or write the last GoAway.</summary>
    private readonly record struct OutboundItem(YamuxStream? Stream, YamuxHeader Header, OutboundKind Kind)
    {
        public static OutboundItem ForStream(YamuxStream stream) => new(stream, default, OutboundKind.Stream);

        public static OutboundItem Control(YamuxHeader header) => new(null, header, OutboundKind.Control);

        public static OutboundItem Final(YamuxHeader header) => new(null, header, OutboundKind.Final);
    }

    private enum OutboundKind : byte
    {
        Stream,
        Control,
        Final,
    }
}
