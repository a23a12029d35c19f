using KontinuumP2P.Core.Addressing;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Discovery.Dns;

/// <summary>Source-generated log messages of DNS resolution.</summary>
internal static partial class DnsLog
{
    [LoggerMessage(EventId = 3201, Level = LogLevel.Debug, Message = "DNS {Type} {Name}: {Code}, {Count} record(s)")]
    public static partial void Answered(ILogger logger, string name, DnsRecordType type, DnsResponseCode code, int count);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Debug, Message = "dnsaddr {Name}: skipped TXT value '{Value}': {Reason}")]
    public static partial void SkippedTxt(ILogger logger, string name, string value, string reason);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Debug, Message = "resolving {Address} stopped: {Reason}")]
    public static partial void BranchFailed(ILogger logger, Multiaddr address, string reason);
}
