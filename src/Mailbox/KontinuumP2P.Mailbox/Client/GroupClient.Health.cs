using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Health;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Client;

public sealed partial class GroupClient
{
    /// <summary>
    /// Layer 1 of fleet health: every named slot whose last attempt failed is reported over
    /// <c>/kontinuum/health/1.0.0</c> to every mailbox of the group that was reached, as this device registered there
    /// (a survivor counts only devices registered at it). The target is the node the slot resolves to now, so a
    /// replacement is never reported for its predecessor's failure once HQ published it. At most one report per
    /// (dead slot, survivor) per call; callers run it on a timer, which bounds the rate.
    /// </summary>
    /// <param name="region">Approximate region of this device (informational).</param>
    /// <param name="timeout">Timeout of each report.</param>
    /// <param name="cancellationToken">Stops the round.</param>
    /// <returns>How many reports a survivor counted.</returns>
    public async Task<int> ReportUnreachableAsync(string region, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var connections = Connections;
        var dead = connections.Where(c => c.Reachable == false && SlotRecord.IsValidSlotName(c.Slot)).ToList();
        var alive = connections.Where(c => c.Reachable == true && c.PeerId is not null).ToList();
        if (dead.Count == 0 || alive.Count == 0) return 0;
        var counted = 0;
        var now = _options.TimeProvider.GetUtcNow();
        foreach (var failed in dead)
        {
            PeerId target;
            try
            {
                target = (await _resolver.ResolveAsync(failed.Slot, cancellationToken).ConfigureAwait(false)).PeerId;
            }
            catch (MailboxUnavailableException e)
            {
                LogReportFailed(_logger, failed.Slot, "-", e.Message);
                continue;
            }
            foreach (var survivor in alive)
            {
                if (survivor.PeerId is not { } peer || peer.Equals(target)) continue;
                var report = new DeviceReport(survivor.Keys.MailboxId, survivor.Keys.Capability, GroupKeys.DeviceId(Store.DeviceSecret, survivor.Keys),
                    new HealthTarget(failed.Slot, target), now, region);
                try
                {
                    if (await HealthReporter.ReportAsync(_host, peer, report, timeout, cancellationToken).ConfigureAwait(false)) counted++;
                }
                catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or OperationCanceledException
                                              && !cancellationToken.IsCancellationRequested)
                {
                    LogReportFailed(_logger, failed.Slot, survivor.Slot, e.Message);
                }
            }
        }
        return counted;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "health report about mailbox {Slot} to {Survivor} failed: {Reason}")]
    private static partial void LogReportFailed(ILogger logger, string slot, string survivor, string reason);
}
