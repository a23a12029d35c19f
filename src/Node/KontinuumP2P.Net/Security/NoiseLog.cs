using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Security;

/// <summary>Source-generated log messages of the Noise layer.</summary>
internal static partial class NoiseLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug,
        Message = "Noise handshake done ({Role}) with {RemotePeer} at {RemoteAddress}, muxer {Muxer}")]
    public static partial void HandshakeCompleted(ILogger logger, string role, string remotePeer, string remoteAddress, string? muxer);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Noise handshake ({Role}) with {RemoteAddress} failed: {Reason}")]
    public static partial void HandshakeFailed(ILogger logger, string role, string remoteAddress, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Noise connection to {RemotePeer} aborted: {Reason}")]
    public static partial void ConnectionFailed(ILogger logger, string remotePeer, string reason);
}
