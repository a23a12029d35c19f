using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Muxing;

internal static partial class YamuxLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "yamux protocol error ({Reason}): {Detail}; sending GoAway")]
    public static partial void ProtocolError(ILogger logger, string reason, string detail);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "yamux remote GoAway code {Code}")]
    public static partial void RemoteGoAway(ILogger logger, uint code);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "yamux refused inbound stream {StreamId}: {Reason}")]
    public static partial void StreamRefused(ILogger logger, uint streamId, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "yamux session ended: {Reason}")]
    public static partial void SessionEnded(ILogger logger, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "yamux read loop failed")]
    public static partial void ReadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6, Level = LogLevel.Debug, Message = "yamux write loop failed")]
    public static partial void WriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "yamux ping {Opaque} still unanswered after {Interval}")]
    public static partial void PingUnanswered(ILogger logger, uint opaque, TimeSpan interval);

    [LoggerMessage(EventId = 8, Level = LogLevel.Trace, Message = "yamux ping rtt {Rtt}")]
    public static partial void PingRtt(ILogger logger, TimeSpan rtt);
}

/// <summary>A session-fatal violation by the remote; the session answers with GoAway(protocol error).</summary>
internal sealed class YamuxProtocolException(string reason, string detail) : IOException($"yamux {reason}: {detail}")
{
    /// <summary>Short metric tag naming the violation.</summary>
    public string Reason { get; } = reason;
}
