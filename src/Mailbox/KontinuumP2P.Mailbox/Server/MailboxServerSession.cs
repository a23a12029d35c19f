using System.Buffers;
using System.Threading.Channels;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Protos;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Server;

/// <summary>
/// One inbound stream: a read loop that validates and dispatches requests (Open first) and a write loop that sends
/// the answers in request order as each completes, with coalesced notifications in between. At most
/// <see cref="MailboxServerOptions.MaxInFlightPerSession"/> answers are pending; beyond that the read loop stops
/// reading. A malformed frame is answered MALFORMED and closes this stream only.
/// </summary>
internal sealed partial class MailboxServerSession
{
    private static readonly TimeSpan RefuseTimeout = TimeSpan.FromSeconds(5);
    private static readonly ulong MaxTtlSeconds = (ulong)TimeSpan.FromDays(3650).TotalSeconds;
    private readonly MailboxServer _server;
    private readonly IP2PStream _stream;
    private readonly Channel<Outbound> _outbound;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TokenBucket _requests;
    private string _device = "";
    private bool _subscribed;
    private long _notifyCursor;
    private int _notifyPending;

    public MailboxServerSession(MailboxServer server, IP2PStream stream)
    {
        _server = server;
        _stream = stream;
        _outbound = Channel.CreateBounded<Outbound>(new BoundedChannelOptions(server.Options.MaxInFlightPerSession)
        {
            SingleReader = true,
            SingleWriter = false,
        });
        _requests = new TokenBucket(server.Options.RequestsPerSecond, server.Options.RequestsPerSecond, server.Time.GetUtcNow().UtcTicks);
    }

    /// <summary>The opened mailbox (null before Open).</summary>
    public MailboxHandle? Mailbox { get; private set; }

    public Task Completion => _completion.Task;

    private MailboxStore Store => _server.Store;

    private MailboxServerOptions Options => _server.Options;

    /// <summary>
    /// An answer slot: a pending answer, a pending pull page (already encoded), or neither: a marker telling the writer
    /// to send the newest notification.
    /// </summary>
    private readonly record struct Outbound(Task<Response>? Pending, Task<PullAnswer>? Pull = null);

    /// <summary>A pull's answer: its encoded page, or a refusal.</summary>
    private readonly record struct PullAnswer(PullFrame? Frame, Response? Refusal);

    public static async ValueTask RefuseAsync(IP2PStream stream, MailboxErrorCode code, string message, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RefuseTimeout);
        try
        {
            await MailboxFrames.WriteAsync(stream.Output, Error(0, code, message), timeout.Token).ConfigureAwait(false);
            await stream.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            stream.Reset();
        }
    }

    /// <summary>Runs the session until the client closes, it misbehaves, it idles out, or the server stops.</summary>
    public async Task RunAsync(CancellationToken stopping, CancellationToken connection)
    {
        var writer = WriteLoopAsync();
        try
        {
            await ReadLoopAsync(stopping, connection).ConfigureAwait(false);
        }
        finally
        {
            _outbound.Writer.TryComplete();
            await writer.ConfigureAwait(false);
            _completion.TrySetResult();
        }
    }

    /// <summary>Flags a notification (called on the store's writer after a commit; never blocks).</summary>
    public void Notify(ulong maxCursor)
    {
        long seen;
        do
        {
            seen = Interlocked.Read(ref _notifyCursor);
            if ((long)maxCursor <= seen) break;
        }
        while (Interlocked.CompareExchange(ref _notifyCursor, (long)maxCursor, seen) != seen);
        // A full queue is fine: the writer checks the flag after every answer.
        if (Interlocked.Exchange(ref _notifyPending, 1) == 0) _outbound.Writer.TryWrite(new Outbound(null));
    }

    public void Abort() => _stream.Reset();

    private async Task ReadLoopAsync(CancellationToken stopping, CancellationToken connection)
    {
        // One idle timer per session, re-armed per read and stopped while a request is handled (two token sources and
        // a timer per request were a visible share of a push's CPU).
        var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _server.Time);
        var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, idle.Token);
        try
        {
            while (true)
            {
                if (idle.IsCancellationRequested)
                {
                    // It fired between a read and its disarming: start afresh.
                    linked.Dispose();
                    idle.Dispose();
                    idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _server.Time);
                    linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, idle.Token);
                }
                var timeout = Mailbox is null ? Options.OpenTimeout : _subscribed ? Options.SubscribedIdleTimeout : Options.IdleTimeout;
                Request? request;
                idle.CancelAfter(timeout);
                try
                {
                    request = await MailboxFrames.ReadAsync(_stream.Input, Request.Parser, MailboxProtocol.MaxRequestFrameBytes, linked.Token, _stream.Resources)
                        .ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    await SendAsync(Error(0, MailboxErrorCode.ShuttingDown, "the server is stopping"), connection).ConfigureAwait(false);
                    return;
                }
                catch (OperationCanceledException) when (idle.IsCancellationRequested)
                {
                    Log.IdleClosed(_server.Logger, _stream.Connection.RemotePeer.ToString(), timeout);
                    return;
                }
                catch (InvalidDataException e)
                {
                    await RefuseMalformedAsync(0, e.Message, connection).ConfigureAwait(false);
                    return;
                }
                catch (Core.Resources.ResourceLimitExceededException e)
                {
                    await RefuseOverLimitAsync(e, connection).ConfigureAwait(false);
                    return;
                }
                catch (IOException)
                {
                    return;
                }
                idle.CancelAfter(Timeout.InfiniteTimeSpan);
                if (!await HandleAsync(request, connection).ConfigureAwait(false)) return;
            }
        }
        finally
        {
            linked.Dispose();
            idle.Dispose();
        }
    }

    /// <summary>Validates and dispatches one request; false when the session must end.</summary>
    private async Task<bool> HandleAsync(Request? request, CancellationToken connection)
    {
        if (request is null) return false;
        if (request.RequestId == 0 || request.BodyCase == Request.BodyOneofCase.None)
        {
            await RefuseMalformedAsync(request.RequestId, "a request needs a non-zero request_id and a body", connection).ConfigureAwait(false);
            return false;
        }
        if (!_requests.TryTake(_server.Time.GetUtcNow().UtcTicks, out var retry))
        {
            _server.Refused(MailboxErrorCode.RateLimited);
            await SendAsync(Error(request.RequestId, MailboxErrorCode.RateLimited, "too many requests", retry), connection).ConfigureAwait(false);
            return true;
        }
        if (request.BodyCase == Request.BodyOneofCase.Open)
        {
            if (!ValidOpen(request.Open))
            {
                await RefuseMalformedAsync(request.RequestId, "open needs a 32-byte mailbox id and capability, a 16..32-byte device id and an empty or 32-byte archive key",
                    connection).ConfigureAwait(false);
                return false;
            }
            // Awaited before reading on, so requests pipelined behind Open see the opened mailbox.
            var opened = OpenAsync(request);
            await opened.ConfigureAwait(false);
            await EnqueueAsync(new Outbound(opened), connection).ConfigureAwait(false);
            return true;
        }
        if (request.BodyCase == Request.BodyOneofCase.RemoveDevice
            && request.RemoveDevice.DeviceId.Length is < MailboxProtocol.MinDeviceIdLength or > MailboxProtocol.MaxDeviceIdLength)
        {
            await RefuseMalformedAsync(request.RequestId, "remove_device needs a 16..32-byte device id", connection).ConfigureAwait(false);
            return false;
        }
        await EnqueueAsync(Dispatch(request), connection).ConfigureAwait(false);
        return true;
    }

    private static bool ValidOpen(Open open) =>
        open.MailboxId.Length == MailboxProtocol.IdLength && open.Capability.Length == MailboxProtocol.IdLength
        && open.DeviceId.Length is >= MailboxProtocol.MinDeviceIdLength and <= MailboxProtocol.MaxDeviceIdLength
        && open.ArchiveKey.Length is 0 or MailboxProtocol.IdLength;

    private Outbound Dispatch(Request request)
    {
        if (Mailbox is not { } mailbox) return new Outbound(Task.FromResult(Refuse(request.RequestId, MailboxErrorCode.NotOpen, "open a mailbox first")));
        if (Revoked is { } revoked) return new Outbound(Task.FromResult(Refuse(request.RequestId, revoked.Code, revoked.Message)));
        if (request.BodyCase == Request.BodyOneofCase.Pull) return new Outbound(null, PullAsync(request.RequestId, mailbox, request.Pull));
        return new Outbound(request.BodyCase switch
        {
            Request.BodyOneofCase.Push => PushAsync(request.RequestId, mailbox, request.Push),
            Request.BodyOneofCase.Ack => AckAsync(request.RequestId, mailbox, request.Ack),
            Request.BodyOneofCase.RemoveDevice => RemoveDeviceAsync(request.RequestId, mailbox, request.RemoveDevice),
            Request.BodyOneofCase.Close => CloseAsync(request.RequestId, mailbox),
            _ => Task.FromResult(Subscribe(request.RequestId, mailbox)),
        });
    }

    private async Task EnqueueAsync(Outbound outbound, CancellationToken connection)
    {
        try
        {
            await _outbound.Writer.WriteAsync(outbound, connection).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            // The connection is gone; the answer is still awaited so nothing is left unobserved (and a page's buffer
            // goes back to the pool).
            if (outbound.Pending is { } pending) await pending.ConfigureAwait(false);
            if (outbound.Pull is { } pull) (await pull.ConfigureAwait(false)).Frame?.Dispose();
        }
    }

    private Task SendAsync(Response response, CancellationToken connection) => EnqueueAsync(new Outbound(Task.FromResult(response)), connection);

    private async Task RefuseMalformedAsync(ulong requestId, string reason, CancellationToken connection)
    {
        _server.Refused(MailboxErrorCode.Malformed);
        Log.Malformed(_server.Logger, _stream.Connection.RemotePeer.ToString(), reason);
        await SendAsync(Error(requestId, MailboxErrorCode.Malformed, reason), connection).ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        // One stall timer per session, armed only around a flush (a token source and timer per flush were a share of a push's cost).
        var stalled = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _server.Time);
        try
        {
            await WriteAnswersAsync(stalled).ConfigureAwait(false);
        }
        finally
        {
            stalled.Dispose();
        }
    }

    private async Task WriteAnswersAsync(CancellationTokenSource stalled)
    {
        var broken = false;
        await foreach (var item in _outbound.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            // Never throws: every request task turns failures into Error answers.
            var response = item.Pending is null ? null : await item.Pending.ConfigureAwait(false);
            var page = item.Pull is null ? default : await item.Pull.ConfigureAwait(false);
            response ??= page.Refusal;
            using var frame = page.Frame;
            if (broken) continue;
            try
            {
                if (response is not null) MailboxFrames.Write(_stream.Output, response);
                if (frame is not null) _stream.Output.Write(frame.Frame.Span);
                if (Interlocked.Exchange(ref _notifyPending, 0) == 1)
                {
                    var max = (ulong)Interlocked.Read(ref _notifyCursor);
                    MailboxFrames.Write(_stream.Output, new Response { Notify = new Notify { MaxCursor = max, Epoch = Mailbox is { } opened ? Store.EpochOf(opened) : Store.Epoch } });
                }
                if (_outbound.Reader.Count == 0)
                {
                    // A client that stops reading is cut off after the idle timeout rather than holding answers forever.
                    stalled.CancelAfter(Options.IdleTimeout);
                    var flushed = await _stream.Output.FlushAsync(stalled.Token).ConfigureAwait(false);
                    stalled.CancelAfter(Timeout.InfiniteTimeSpan);
                    if (flushed.IsCompleted || stalled.IsCancellationRequested) broken = true;
                }
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
            {
                broken = true;
            }
            // Resetting at once also ends the read loop, which may be waiting for room in the queue.
            if (broken) _stream.Reset();
        }
        if (broken) return;
        try
        {
            await _stream.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            _stream.Reset();
        }
    }
}
