using System.Collections.Concurrent;
using System.Threading.Channels;
using Google.Protobuf;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Protos;

namespace KontinuumP2P.Mailbox.Wire;

/// <summary>Settings of a <see cref="MailboxSession"/>.</summary>
public sealed record MailboxSessionOptions
{
    /// <summary>How long a request waits for its answer.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Requests outstanding at once on the stream (pipelined; later callers wait).</summary>
    public int MaxInFlight { get; init; } = 64;

    /// <summary>Notifications buffered for the reader; the oldest are dropped (each one supersedes the earlier).</summary>
    public int NotificationCapacity { get; init; } = 16;

    /// <summary>The clock for timeouts.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>
/// The typed client of one mailbox session over one <c>/kontinuum/mailbox/1.0.0</c> stream: Open first, then pushes,
/// pulls, acks and a subscription. Requests may be issued concurrently (pipelined, bounded by
/// <see cref="MailboxSessionOptions.MaxInFlight"/>); answers are matched by request id. Refusals throw
/// <see cref="MailboxException"/>; a broken stream throws <see cref="IOException"/> and ends the session.
/// </summary>
public sealed partial class MailboxSession : IAsyncDisposable
{
    private readonly IP2PStream _stream;
    private readonly MailboxSessionOptions _options;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<Response>> _pending = new();
    private readonly SemaphoreSlim _inFlight;
    private readonly Channel<Outgoing> _requests;
    private readonly Channel<MailboxNotification> _notifications;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _reader;
    private readonly Task _writer;
    // Pull answers parsed without per-blob messages: the page hangs off the answer's marker until PullAsync takes it.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<Response, MailboxPullResult> _pages = new();
    private readonly SpanParser<Response> _parsePull;
    private long _nextRequestId;
    private volatile int _maxFrameBytes = MailboxProtocol.MaxSmallFrameBytes;
    private volatile Exception? _failure;
    private int _disposed;

    /// <summary>Runs a session over an already negotiated stream (the session owns and disposes it).</summary>
    public MailboxSession(IP2PStream stream, MailboxSessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _options = options ?? new MailboxSessionOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxInFlight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.NotificationCapacity, 1);
        _inFlight = new SemaphoreSlim(_options.MaxInFlight, _options.MaxInFlight);
        _parsePull = body =>
        {
            if (PullAnswerParser.TryParse(body) is not { } parsed) return null;
            _pages.AddOrUpdate(parsed.Marker, parsed.Page);
            return parsed.Marker;
        };
        _notifications = Channel.CreateBounded<MailboxNotification>(new BoundedChannelOptions(_options.NotificationCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleWriter = true,
        });
        // Requests are bounded by the in-flight semaphore before they are queued.
        _requests = Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true });
        _reader = Task.Run(() => ReadLoopAsync(_stopping.Token));
        _writer = Task.Run(() => WriteLoopAsync(_stopping.Token));
    }

    /// <summary>Opens a stream to <paramref name="server"/> and runs a session over it.</summary>
    public static async Task<MailboxSession> ConnectAsync(IPeerHost host, PeerId server, MailboxSessionOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        var stream = await host.NewStreamAsync(server, [MailboxProtocol.ProtocolId], cancellationToken).ConfigureAwait(false);
        return new MailboxSession(stream, options);
    }

    /// <summary>The answer to Open, once it arrived.</summary>
    public MailboxOpenResult? OpenResult { get; private set; }

    /// <summary>Notifications after <see cref="SubscribeAsync"/>; completes when the session ends.</summary>
    public ChannelReader<MailboxNotification> Notifications => _notifications.Reader;

    /// <summary>Completes when the stream has ended (cleanly or not).</summary>
    public Task Completion => _reader;

    /// <summary>Opens (creating on first use) a mailbox as a device.</summary>
    /// <param name="mailboxId">32-byte mailbox id.</param>
    /// <param name="capability">32-byte secret proving access.</param>
    /// <param name="deviceId">16..32-byte per-mailbox device id.</param>
    /// <param name="archiveKey">Empty or 32 bytes (replica mailboxes keep it for the archive).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async Task<MailboxOpenResult> OpenAsync(ReadOnlyMemory<byte> mailboxId, ReadOnlyMemory<byte> capability, ReadOnlyMemory<byte> deviceId,
        ReadOnlyMemory<byte> archiveKey, CancellationToken cancellationToken)
    {
        var response = await SendAsync(new Request
        {
            Open = new Open
            {
                MailboxId = MailboxFrames.Wrap(mailboxId),
                Capability = MailboxFrames.Wrap(capability),
                DeviceId = MailboxFrames.Wrap(deviceId),
                ArchiveKey = MailboxFrames.Wrap(archiveKey),
            },
        }, Response.BodyOneofCase.Open, cancellationToken).ConfigureAwait(false);
        var open = response.Open;
        var result = new MailboxOpenResult(open.Epoch, open.MaxCursor, open.Pending, open.AckedUpTo,
            MailboxWireMapping.FromWire(open.Limits), MailboxWireMapping.FromWire(open.Retention));
        OpenResult = result;
        return result;
    }

    /// <summary>Pushes a sealed blob; returns once the server has committed it.</summary>
    /// <param name="blob">The sealed bytes (kept unchanged until this returns).</param>
    /// <param name="blobId">BLAKE3 of <paramref name="blob"/>.</param>
    /// <param name="ttlSeconds">Requested TTL (ephemeral servers clamp it; 0 = their default).</param>
    /// <param name="cancellationToken">Cancels the wait (the push may still be committed).</param>
    public async Task<MailboxPushResult> PushAsync(ReadOnlyMemory<byte> blob, ReadOnlyMemory<byte> blobId, ulong ttlSeconds,
        CancellationToken cancellationToken)
    {
        var response = await SendAsync(new Request
        {
            Push = new Push { Blob = MailboxFrames.Wrap(blob), BlobId = MailboxFrames.Wrap(blobId), TtlSeconds = ttlSeconds },
        }, Response.BodyOneofCase.Push, cancellationToken).ConfigureAwait(false);
        return new MailboxPushResult(response.Push.Cursor, response.Push.Duplicate, response.Push.Epoch);
    }

    /// <summary>Reads blobs after <paramref name="afterCursor"/>.</summary>
    /// <param name="afterCursor">Last cursor already held (0 = from the start).</param>
    /// <param name="limit">Most blobs wanted (0 = the server's maximum).</param>
    /// <param name="maxBytes">Most bytes wanted (0 = the server's maximum).</param>
    /// <param name="epoch">The epoch the cursor belongs to (0 = any).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async Task<MailboxPullResult> PullAsync(ulong afterCursor, int limit, int maxBytes, ulong epoch, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        var response = await SendAsync(new Request
        {
            Pull = new Pull { AfterCursor = afterCursor, Limit = (uint)limit, MaxBytes = (uint)maxBytes, Epoch = epoch },
        }, Response.BodyOneofCase.Pull, cancellationToken).ConfigureAwait(false);
        if (_pages.TryGetValue(response, out var parsed)) return parsed;
        var pull = response.Pull;
        var blobs = new MailboxBlob[pull.Blobs.Count];
        for (var i = 0; i < blobs.Length; i++)
        {
            var b = pull.Blobs[i];
            blobs[i] = new MailboxBlob(b.Cursor, b.BlobId.Memory, b.Data.Memory);
        }
        return new MailboxPullResult(blobs, pull.HasMore, pull.MaxCursor, pull.Epoch);
    }

    /// <summary>Acknowledges every blob up to <paramref name="upToCursor"/> for this device; returns the ack position.</summary>
    public async Task<ulong> AckAsync(ulong upToCursor, ulong epoch, CancellationToken cancellationToken)
    {
        var response = await SendAsync(new Request { Ack = new Ack { UpToCursor = upToCursor, Epoch = epoch } },
            Response.BodyOneofCase.Ack, cancellationToken).ConfigureAwait(false);
        return response.Ack.AckedUpTo;
    }

    /// <summary>Subscribes to notifications (read them from <see cref="Notifications"/>); returns the current position.</summary>
    public async Task<MailboxNotification> SubscribeAsync(CancellationToken cancellationToken)
    {
        var response = await SendAsync(new Request { Subscribe = new Subscribe() }, Response.BodyOneofCase.Subscribe, cancellationToken)
            .ConfigureAwait(false);
        return new MailboxNotification(response.Subscribe.MaxCursor, response.Subscribe.Epoch);
    }

    /// <summary>
    /// Removes a device from the opened mailbox: it stops counting for all-device retention and is refused from now on
    /// (<see cref="MailboxErrorCode.DeviceRemoved"/>). Idempotent; returns whether it was registered and how many remain.
    /// </summary>
    /// <param name="deviceId">The device's 16..32-byte id at this mailbox.</param>
    /// <param name="cancellationToken">Cancels the wait (the removal may still be committed).</param>
    public async Task<MailboxDeviceRemoval> RemoveDeviceAsync(ReadOnlyMemory<byte> deviceId, CancellationToken cancellationToken)
    {
        if (deviceId.Length is < MailboxProtocol.MinDeviceIdLength or > MailboxProtocol.MaxDeviceIdLength)
            throw new ArgumentException("a device id has 16 to 32 bytes", nameof(deviceId));
        var response = await SendAsync(new Request { RemoveDevice = new RemoveDevice { DeviceId = MailboxFrames.Wrap(deviceId) } },
            Response.BodyOneofCase.RemoveDevice, cancellationToken).ConfigureAwait(false);
        return new MailboxDeviceRemoval(response.RemoveDevice.Removed, (int)response.RemoveDevice.Devices);
    }

    /// <summary>
    /// Closes the opened mailbox for good: the server deletes it and tombstones its id, so the capability opens nothing
    /// afterwards (<see cref="MailboxErrorCode.MailboxClosed"/>). Returns how many blobs it held.
    /// </summary>
    public async Task<ulong> CloseMailboxAsync(CancellationToken cancellationToken)
    {
        var response = await SendAsync(new Request { Close = new Close() }, Response.BodyOneofCase.Close, cancellationToken).ConfigureAwait(false);
        return response.Close.DeletedBlobs;
    }

    /// <summary>Half-closes the stream, waits briefly for the server to finish, then resets it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _requests.Writer.TryComplete();
        try
        {
            // The writer sends what is queued, then half-closes the stream.
            await _writer.WaitAsync(TimeSpan.FromSeconds(5), _options.TimeProvider).ConfigureAwait(false);
            await _reader.WaitAsync(TimeSpan.FromSeconds(5), _options.TimeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _stream.Reset();
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _writer.ConfigureAwait(false);
        await _reader.ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task<Response> SendAsync(Request request, Response.BodyOneofCase expected, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_failure is { } failed) throw Failed(failed);
        await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        var id = (ulong)Interlocked.Increment(ref _nextRequestId);
        var completion = new TaskCompletionSource<Response>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = completion;
        Outgoing? outgoing = null;
        try
        {
            request.RequestId = id;
            // The write loop sends queued requests back to back and flushes once the queue is empty, so pipelined
            // requests share Noise/Yamux frames. A server that stops reading is caught by the answer timeout below.
            outgoing = new Outgoing(request);
            if (!_requests.Writer.TryWrite(outgoing)) throw Failed(_failure ?? new IOException("the mailbox session is closing"));
            // The reader may have failed between our check and the registration.
            if (_failure is { } late) completion.TrySetException(Failed(late));
            Response response;
            try
            {
                response = await completion.Task.WaitAsync(_options.RequestTimeout, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"the mailbox server did not answer within {_options.RequestTimeout}", e);
            }
            if (response.BodyCase == Response.BodyOneofCase.Error) throw MailboxWireMapping.ToException(response.Error);
            if (response.BodyCase != expected) throw new IOException($"the mailbox server answered {response.BodyCase} to a {request.BodyCase} request");
            return response;
        }
        finally
        {
            // The request may wrap the caller's memory: once we return it must never be read again.
            outgoing?.Abandon();
            _pending.TryRemove(id, out _);
            _inFlight.Release();
        }
    }

    /// <summary>A queued request; the writer copies it into the pipe only if its caller is still waiting.</summary>
    private sealed class Outgoing(Request request)
    {
        private const int Queued = 0, Copying = 1, Done = 2;
        private int _state;

        public Request Request { get; } = request;

        /// <summary>Claims the request for copying; false when its caller already gave up.</summary>
        public bool TryClaim() => Interlocked.CompareExchange(ref _state, Copying, Queued) == Queued;

        public void Copied() => Volatile.Write(ref _state, Done);

        /// <summary>Stops a queued request from being sent, or waits out a copy in progress (a synchronous memcpy).</summary>
        public void Abandon()
        {
            if (Interlocked.CompareExchange(ref _state, Done, Queued) == Queued) return;
            var spin = new SpinWait();
            while (Volatile.Read(ref _state) == Copying) spin.SpinOnce();
        }
    }

    private static IOException Failed(Exception failure) => failure as MailboxException is { } refusal
        ? new MailboxException(refusal.Code, refusal.Message, refusal.RetryAfter, refusal.Epoch)
        : new IOException($"the mailbox session ended: {failure.Message}", failure);

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            var reader = _requests.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var outgoing))
                {
                    if (!outgoing.TryClaim()) continue;
                    try
                    {
                        MailboxFrames.Write(_stream.Output, outgoing.Request);
                    }
                    finally
                    {
                        outgoing.Copied();
                    }
                }
                var flush = await _stream.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (flush.IsCompleted) throw new IOException("the mailbox server stopped reading the stream");
            }
            await _stream.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposal after the grace period: the stream is reset by the caller.
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            var failure = new IOException($"the mailbox session could not send: {e.Message}", e);
            _failure ??= failure;
            _requests.Writer.TryComplete();
            foreach (var completion in _pending.Values) completion.TrySetException(Failed(failure));
            _stream.Reset();
        }
    }

    private async Task ReadLoopAsync(CancellationToken cancellationToken)
    {
        Exception failure = new IOException("the mailbox server closed the stream");
        try
        {
            while (true)
            {
                var response = await MailboxFrames.ReadAsync(_stream.Input, Response.Parser, _maxFrameBytes, cancellationToken, fast: _parsePull)
                    .ConfigureAwait(false);
                if (response is null) break;
                if (response.BodyCase == Response.BodyOneofCase.Notify)
                {
                    _notifications.Writer.TryWrite(new MailboxNotification(response.Notify.MaxCursor, response.Notify.Epoch));
                    continue;
                }
                if (response.RequestId == 0)
                {
                    // An unsolicited error precedes the server closing the stream (shutdown, malformed input).
                    if (response.BodyCase == Response.BodyOneofCase.Error) failure = MailboxWireMapping.ToException(response.Error);
                    continue;
                }
                if (response.BodyCase == Response.BodyOneofCase.Open && response.Open.Limits is { } limits)
                {
                    // Raised here, before the next read starts, so the first pull page is not refused by the old cap.
                    var fromLimits = MailboxWireMapping.FromWire(limits);
                    _maxFrameBytes = MailboxProtocol.MaxPullFrameBytes(fromLimits.MaxPullBlobs, fromLimits.MaxPullBytes);
                }
                if (_pending.TryGetValue(response.RequestId, out var completion)) completion.TrySetResult(response);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            failure = new IOException("the mailbox session was closed");
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException)
        {
            failure = e is InvalidDataException ? new IOException($"the mailbox server sent an invalid frame: {e.Message}", e) : e;
            _stream.Reset();
        }
        _failure = failure;
        foreach (var completion in _pending.Values) completion.TrySetException(Failed(failure));
        _notifications.Writer.TryComplete();
    }
}
