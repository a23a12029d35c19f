using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Hosting;

/// <summary>Source-generated log messages of the host.</summary>
internal static partial class HostLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "listening on {Address}")]
    public static partial void Listening(ILogger logger, Multiaddr address);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Debug, Message = "connection {ConnectionId} to {Peer} ({Direction}) at {Address} opened")]
    public static partial void ConnectionOpened(ILogger logger, string connectionId, PeerId peer, string direction, Multiaddr address);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "connection {ConnectionId} to {Peer} closed")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId, PeerId peer);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Debug, Message = "inbound connection from {Address} refused: {Reason}")]
    public static partial void InboundRefused(ILogger logger, Multiaddr address, string reason);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Debug, Message = "upgrade of {Direction} connection with {Address} failed: {Reason}")]
    public static partial void UpgradeFailed(ILogger logger, string direction, Multiaddr address, string reason);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Debug, Message = "inbound stream on {ConnectionId} refused: {Reason}")]
    public static partial void StreamRefused(ILogger logger, string connectionId, string reason);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Error, Message = "handler for {Protocol} on {ConnectionId} threw")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string protocol, string connectionId);

    [LoggerMessage(EventId = 2017, Level = LogLevel.Debug, Message = "stream of {Protocol} on {ConnectionId} ended early: {Reason}")]
    public static partial void HandlerStreamFailed(ILogger logger, string protocol, string connectionId, string reason);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Debug, Message = "identify with {Peer} failed: {Reason}")]
    public static partial void IdentifyFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Warning, Message = "background task failed")]
    public static partial void BackgroundTaskFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Debug, Message = "closing idle connection {ConnectionId} to {Peer}")]
    public static partial void ClosingIdle(ILogger logger, string connectionId, PeerId peer);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Warning, Message = "event handler of {Event} threw")]
    public static partial void EventHandlerFailed(ILogger logger, Exception exception, string @event);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Debug, Message = "accept on {Address} failed: {Reason}")]
    public static partial void AcceptFailed(ILogger logger, Multiaddr address, string reason);
}
