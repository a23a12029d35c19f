using System.Net;
using KontinuumP2P.Core.Identity;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Discovery.Mdns;

/// <summary>Source-generated log messages of mDNS discovery.</summary>
internal static partial class MdnsLog
{
    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "mDNS started as {Instance} on {Interfaces}, service {Service}")]
    public static partial void Started(ILogger logger, string instance, string interfaces, string service);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "mDNS found no usable multicast interface; discovery is idle")]
    public static partial void NoInterfaces(ILogger logger);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "mDNS could not join {Group} on interface {Interface}: {Reason}")]
    public static partial void JoinFailed(ILogger logger, IPAddress group, string @interface, string reason);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Debug, Message = "mDNS dropped a packet from {Remote}: {Reason}")]
    public static partial void Dropped(ILogger logger, EndPoint remote, string reason);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Debug, Message = "mDNS discovered {Peer} with {Count} address(es)")]
    public static partial void Discovered(ILogger logger, PeerId peer, int count);

    [LoggerMessage(EventId = 3106, Level = LogLevel.Debug, Message = "mDNS send on interface {Interface} failed: {Reason}")]
    public static partial void SendFailed(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = 3107, Level = LogLevel.Debug, Message = "mDNS peer {Peer} said goodbye")]
    public static partial void Goodbye(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 3108, Level = LogLevel.Warning, Message = "mDNS has nothing to advertise: no private address among {Count} listen address(es)")]
    public static partial void NothingToAdvertise(ILogger logger, int count);

    [LoggerMessage(EventId = 3109, Level = LogLevel.Information,
        Message = "mDNS stopped: sent {Queries} queries and {Responses} responses, received {Received} packets, dropped {Dropped}")]
    public static partial void Stopped(ILogger logger, long queries, long responses, long received, long dropped);
}
