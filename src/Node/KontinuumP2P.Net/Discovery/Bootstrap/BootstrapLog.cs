using KontinuumP2P.Core.Identity;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Discovery.Bootstrap;

/// <summary>Source-generated log messages of bootstrap dialing.</summary>
internal static partial class BootstrapLog
{
    [LoggerMessage(EventId = 3301, Level = LogLevel.Warning, Message = "bootstrap entry skipped: {Problem}")]
    public static partial void Skipped(ILogger logger, BootstrapProblem problem);

    [LoggerMessage(EventId = 3302, Level = LogLevel.Information, Message = "connected to bootstrap peer {Peer} via {Address}")]
    public static partial void Connected(ILogger logger, PeerId peer, string address);

    [LoggerMessage(EventId = 3303, Level = LogLevel.Debug, Message = "bootstrap {Target} failed ({Failures} in a row), next try in {Delay}: {Reason}")]
    public static partial void Failed(ILogger logger, string target, int failures, TimeSpan delay, string reason);
}
