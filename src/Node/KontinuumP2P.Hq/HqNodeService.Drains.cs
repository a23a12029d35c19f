using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Hq;

public sealed partial class HqNodeService
{
    /// <summary>
    /// Delivers drains recorded since the last tick (also by <c>hq drain</c> in another process): starts the spare
    /// that took the slot over and publishes the slot's new record, so clients follow it; then stops the old nodes of
    /// decommissioned drains that HQ started from its spare pool.
    /// </summary>
    private async Task DeliverDrainsAsync(CancellationToken cancellationToken)
    {
        foreach (var (drain, record) in _hq.UndeliveredDrains())
        {
            if (_provisioner is not null && drain.SpareId is { } id && _hq.Registry.GetSpare(id) is { } spare)
            {
                try
                {
                    await _provisioner.StartAsync(spare, drain.Slot, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or TimeoutException or UnauthorizedAccessException
                                              or System.ComponentModel.Win32Exception)
                {
                    // As for a replacement: the slot goes down and the next tick's replacement picks another spare.
                    var failure = _hq.ProvisionFailed("hq", drain.Slot, id, e.Message);
                    LogProvisionFailed(_logger, drain.Slot, id, e.Message);
                    Raise("provision-failed", drain.Slot, id, e.Message);
                    if (failure.RetryAt is null) Raise("provision-abandoned", drain.Slot, id, $"{failure.Attempt} attempts");
                }
            }
            _hq.Registry.DrainDelivered(drain.Slot, drain.OldNode);
            Raise("drained", drain.Slot, drain.NewNode, $"{drain.OldNode} -> {drain.NewNode}");
            await PublishAsync(record, cancellationToken).ConfigureAwait(false);
        }
        foreach (var drain in _hq.Registry.DrainsToStop())
        {
            string result;
            if (_provisioner is null)
            {
                result = "no provisioner: stop it by hand";
            }
            else
            {
                try
                {
                    await _provisioner.StopAsync(drain.OldNode, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
                    result = "stopped";
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
                {
                    result = $"not stopped: {e.Message}";
                }
            }
            LogDrainedNodeStopped(_logger, drain.Slot, drain.OldNode, result);
            _hq.Registry.DrainStopped("hq", drain, result);
            Raise("stopped", drain.Slot, drain.OldNode, result);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "HQ: decommissioned node {NodeId} of slot {Slot}: {Result}")]
    private static partial void LogDrainedNodeStopped(ILogger logger, string slot, string nodeId, string result);
}
