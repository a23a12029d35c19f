using KontinuumP2P.Mailbox.Protos;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Server;

internal sealed partial class MailboxServerSession
{
    private async Task<Response> OpenAsync(Request request)
    {
        var id = request.RequestId;
        if (Mailbox is not null) return Refuse(id, MailboxErrorCode.Malformed, "the session is already open");
        try
        {
            var open = request.Open;
            var opened = await Store.OpenMailboxAsync(open.MailboxId.Memory, open.Capability.Memory, open.DeviceId.Memory, open.ArchiveKey.Memory,
                CancellationToken.None).ConfigureAwait(false);
            Mailbox = opened.Handle;
            _device = opened.Handle.Row.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":" + Convert.ToHexString(open.DeviceId.Span);
            Log.Opened(_server.Logger, _stream.Connection.RemotePeer.ToString(), opened.Created);
            return new Response
            {
                RequestId = id,
                Open = new OpenResult
                {
                    Epoch = Store.EpochOf(opened.Handle),
                    MaxCursor = opened.MaxCursor,
                    Pending = opened.Pending,
                    AckedUpTo = opened.AckedUpTo,
                    Limits = MailboxWireMapping.ToWire(_server.Limits),
                    Retention = MailboxWireMapping.ToWire(_server.Retention),
                },
            };
        }
        catch (Exception e)
        {
            return Failure(id, e);
        }
    }

    private async Task<Response> PushAsync(ulong id, MailboxHandle mailbox, Push push)
    {
        try
        {
            if (push.Blob.Length > Options.Store.MaxBlobBytes)
                return Refuse(id, MailboxErrorCode.BlobTooLarge, $"blob of {push.Blob.Length} bytes exceeds the {Options.Store.MaxBlobBytes}-byte limit");
            if (push.BlobId.Length != MailboxProtocol.IdLength) return Refuse(id, MailboxErrorCode.BadBlobId, "a blob id has 32 bytes");
            if (!_server.DeviceLimits.TryPush(_device, out var retry))
                return Refuse(id, MailboxErrorCode.RateLimited, $"more than {Options.PushesPerMinute} pushes per minute", retry);
            var ttl = TimeSpan.FromSeconds(Math.Min(push.TtlSeconds, MaxTtlSeconds));
            var result = await Store.PushImmutableAsync(mailbox, push.BlobId.Memory, push.Blob.Memory, ttl, CancellationToken.None).ConfigureAwait(false);
            return new Response { RequestId = id, Push = new PushResult { Cursor = result.Cursor, Duplicate = result.Duplicate, Epoch = result.Epoch } };
        }
        catch (Exception e)
        {
            return Failure(id, e);
        }
    }

    private async Task<PullAnswer> PullAsync(ulong id, MailboxHandle mailbox, Pull pull)
    {
        PullFrame? frame = null;
        try
        {
            if (pull.Epoch != 0 && pull.Epoch != Store.EpochOf(mailbox)) return new PullAnswer(null, EpochChanged(id, mailbox, pull.Epoch));
            var limit = pull.Limit == 0 || pull.Limit > Options.MaxPullBlobs ? Options.MaxPullBlobs : (int)pull.Limit;
            var maxBytes = pull.MaxBytes == 0 || pull.MaxBytes > Options.MaxPullBytes ? Options.MaxPullBytes : (int)pull.MaxBytes;
            // Encoded straight from the rows (same bytes as the generated code writes), inside the cap the client holds.
            frame = new PullFrame(_stream.Resources, MailboxProtocol.MaxPullFrameBytes(Options.MaxPullBlobs, Options.MaxPullBytes));
            var page = await Store.ReadFrameAsync(mailbox, pull.AfterCursor, limit, maxBytes, frame, CancellationToken.None).ConfigureAwait(false);
            frame.Finish(id, page.HasMore, page.MaxCursor, page.Epoch);
            return new PullAnswer(frame, null);
        }
        catch (Exception e)
        {
            frame?.Dispose();
            return new PullAnswer(null, e is Core.Resources.ResourceLimitExceededException limit
                ? Refuse(id, MailboxErrorCode.RateLimited, limit.Message, OverLimitRetry)
                : Failure(id, e));
        }
    }

    private async Task<Response> AckAsync(ulong id, MailboxHandle mailbox, Ack ack)
    {
        try
        {
            if (ack.Epoch != 0 && ack.Epoch != Store.EpochOf(mailbox)) return EpochChanged(id, mailbox, ack.Epoch);
            var acked = await Store.AckAsync(mailbox, ack.UpToCursor, CancellationToken.None).ConfigureAwait(false);
            return new Response { RequestId = id, Ack = new AckResult { AckedUpTo = acked } };
        }
        catch (Exception e)
        {
            return Failure(id, e);
        }
    }

    private Response Subscribe(ulong id, MailboxHandle mailbox)
    {
        if (!_subscribed)
        {
            _subscribed = true;
            _server.Subscribe(mailbox.Row, this);
        }
        return new Response { RequestId = id, Subscribe = new SubscribeResult { MaxCursor = Store.MaxCursor(mailbox), Epoch = Store.EpochOf(mailbox) } };
    }

    private Response EpochChanged(ulong id, MailboxHandle mailbox, ulong asked) =>
        Refuse(id, MailboxErrorCode.EpochChanged, $"epoch {asked:x16} is not the mailbox's; start again from cursor 0", epoch: Store.EpochOf(mailbox));

    private Response Failure(ulong id, Exception e) => e switch
    {
        MailboxException refusal => Refuse(id, refusal.Code, StripCode(refusal), refusal.RetryAfter, refusal.Epoch),
        ObjectDisposedException => Refuse(id, MailboxErrorCode.ShuttingDown, "the server is stopping"),
        _ => InternalFailure(id, e),
    };

    private Response InternalFailure(ulong id, Exception e)
    {
        Log.Failed(_server.Logger, e);
        return Refuse(id, MailboxErrorCode.Internal, "the server failed; nothing was stored");
    }

    private static string StripCode(MailboxException e)
    {
        var prefix = e.Code + ": ";
        return e.Message.StartsWith(prefix, StringComparison.Ordinal) ? e.Message[prefix.Length..] : e.Message;
    }

    private Response Refuse(ulong id, MailboxErrorCode code, string message, TimeSpan retryAfter = default, ulong epoch = 0)
    {
        _server.Refused(code);
        return Error(id, code, message, retryAfter, epoch);
    }

    private static Response Error(ulong id, MailboxErrorCode code, string message, TimeSpan retryAfter = default, ulong epoch = 0) => new()
    {
        RequestId = id,
        Error = new Error
        {
            Code = MailboxWireMapping.ToWire(code),
            Message = message,
            RetryAfterMs = (uint)Math.Min(uint.MaxValue, Math.Ceiling(retryAfter.TotalMilliseconds)),
            Epoch = epoch,
        },
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "Mailbox session from {Peer} opened (created: {Created})")]
        public static partial void Opened(ILogger logger, string peer, bool created);

        [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Mailbox session from {Peer} closed: malformed ({Reason})")]
        public static partial void Malformed(ILogger logger, string peer, string reason);

        [LoggerMessage(EventId = 22, Level = LogLevel.Debug, Message = "Mailbox session from {Peer} closed after {Timeout} idle")]
        public static partial void IdleClosed(ILogger logger, string peer, TimeSpan timeout);

        [LoggerMessage(EventId = 23, Level = LogLevel.Error, Message = "Mailbox request failed")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
