using KontinuumP2P.Core.Identity;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Dht;

/// <summary>Source-generated log messages of the DHT.</summary>
internal static partial class DhtLog
{
    [LoggerMessage(1, LogLevel.Information, "DHT {Mode} started on {Protocol} with {Entries} routing entries reseeded from the snapshot")]
    public static partial void Started(this ILogger logger, DhtMode mode, string protocol, int entries);

    [LoggerMessage(2, LogLevel.Debug, "Lookup {Kind} finished: {Hops} hops, {Requests} requests, {Failures} failures, {DurationMs} ms")]
    public static partial void LookupFinished(this ILogger logger, string kind, int hops, int requests, int failures, double durationMs);

    [LoggerMessage(3, LogLevel.Debug, "Rejected a record from {Peer}: {Reason}")]
    public static partial void RecordRejected(this ILogger logger, PeerId? peer, string reason);

    [LoggerMessage(4, LogLevel.Debug, "Routing table: {Peer} {Change}")]
    public static partial void RoutingChange(this ILogger logger, PeerId peer, string change);

    [LoggerMessage(5, LogLevel.Warning, "DHT maintenance step {Step} failed")]
    public static partial void MaintenanceFailed(this ILogger logger, string step, Exception exception);

    [LoggerMessage(6, LogLevel.Debug, "Invalid kad request from {Peer}: {Reason}")]
    public static partial void InvalidRequest(this ILogger logger, PeerId peer, string reason);

    [LoggerMessage(7, LogLevel.Information, "Republished {Records} records and {Providers} provider keys")]
    public static partial void Republished(this ILogger logger, int records, int providers);

    [LoggerMessage(8, LogLevel.Information, "DHT stopped; saved {Entries} routing entries")]
    public static partial void Stopped(this ILogger logger, int entries);
}
