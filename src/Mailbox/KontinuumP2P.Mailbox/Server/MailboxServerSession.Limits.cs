using KontinuumP2P.Core.Resources;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Server;

/// <summary>Refusals by the host's resource scopes (a large frame the peer's or protocol's memory limit has no room for).</summary>
internal sealed partial class MailboxServerSession
{
    private static readonly TimeSpan OverLimitRetry = TimeSpan.FromSeconds(1);

    // The frame is half read, so the stream cannot go on: answer why, then close this stream only.
    private async Task RefuseOverLimitAsync(ResourceLimitExceededException refusal, CancellationToken connection)
    {
        _server.Refused(MailboxErrorCode.RateLimited);
        Log.OverLimit(_server.Logger, _stream.Connection.RemotePeer.ToString(), refusal.Reason, refusal.Message);
        await SendAsync(Error(0, MailboxErrorCode.RateLimited, refusal.Message, OverLimitRetry), connection).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 28, Level = LogLevel.Information, Message = "Mailbox stream from {Peer} closed by a resource limit ({Reason}): {Detail}")]
        public static partial void OverLimit(ILogger logger, string peer, string reason, string detail);
    }
}
