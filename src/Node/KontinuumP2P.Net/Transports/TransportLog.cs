using KontinuumP2P.Core.Addressing;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Transports;

/// <summary>Source-generated log messages of the transports.</summary>
internal static partial class TransportLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "receive from {Remote} ended: {Reason}")]
    public static partial void ReceiveEnded(ILogger logger, Multiaddr remote, string reason);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "send to {Remote} ended: {Reason}")]
    public static partial void SendEnded(ILogger logger, Multiaddr remote, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "unsent data to {Remote} dropped: the peer stopped reading")]
    public static partial void DrainTimedOut(ILogger logger, Multiaddr remote);
}
