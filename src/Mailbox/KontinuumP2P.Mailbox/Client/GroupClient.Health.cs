using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Health;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>What one round of the health loop saw and did.</summary>
/// <param name="Unreachable">Mailboxes of the current generation that did not answer.</param>
/// <param name="Reports">Reports a survivor counted in this round.</param>
/// <param name="NewReseeds">Slots found on a new node since the last round (re-seed jobs recorded).</param>
/// <param name="PendingReseeds">Unfinished re-seed jobs after the round.</param>
public sealed record GroupHealthRound(int Unreachable, int Reports, int NewReseeds, int PendingReseeds);

public sealed partial class GroupClient
{
    private readonly Lock _healthLock = new();
    private ReseedMetrics? _reseedMetrics;
    private GroupHealthLoop? _healthLoop;
    private int _movedSinceRound;

    private ReseedMetrics ReseedMetrics
    {
        get
        {
            lock (_healthLock) return _reseedMetrics ??= new ReseedMetrics(_options.MeterFactory, PendingReseeds);
        }
    }

    /// <summary>
    /// Starts this client's health loop (at most one): every <see cref="GroupHealthOptions.Interval"/> it probes the
    /// mailboxes that did not answer, reports the ones still unreachable to the survivors with backoff
    /// (<see cref="ReportSchedule"/>) until they recover or their slot moves, records a re-seed job when a slot is
    /// found on a new node, and re-seeds replacements in the background at a bounded rate (<see cref="ReseedAsync"/>).
    /// Pending re-seeds saved by an earlier run resume. Stopped by disposing the loop or the client.
    /// </summary>
    /// <exception cref="InvalidOperationException">A loop is already running.</exception>
    public GroupHealthLoop StartHealthLoop(GroupHealthOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        lock (_healthLock)
        {
            if (_healthLoop is { IsRunning: true }) throw new InvalidOperationException("the health loop is already running");
            _healthLoop = new GroupHealthLoop(this, options, _options.TimeProvider, _logger);
            _healthLoop.Start();
            return _healthLoop;
        }
    }

    /// <summary>
    /// Layer 1 of fleet health: every named slot whose last attempt failed is reported over
    /// <c>/kontinuum/health/1.0.0</c> to every mailbox of the group that was reached, as this device registered there
    /// (a survivor counts only devices registered at it). The target is the node the slot resolves to now, so a
    /// replacement is never reported for its predecessor's failure once HQ published it. At most one report per
    /// (dead slot, survivor) per call; <see cref="StartHealthLoop"/> runs it on a timer with backoff.
    /// </summary>
    /// <param name="region">Approximate region of this device (informational).</param>
    /// <param name="timeout">Timeout of each report.</param>
    /// <param name="cancellationToken">Stops the round.</param>
    /// <returns>How many reports a survivor counted.</returns>
    public async Task<int> ReportUnreachableAsync(string region, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var connections = Connections;
        var counted = 0;
        foreach (var failed in connections.Where(c => c.Reachable == false && SlotRecord.IsValidSlotName(c.Slot)))
        {
            if (await ResolveTargetAsync(failed, cancellationToken).ConfigureAwait(false) is { } target)
                counted += await ReportSlotAsync(connections, failed, target, region, timeout, cancellationToken).ConfigureAwait(false);
        }
        return counted;
    }

    /// <summary>One round of the health loop (the loop's work; tests call it directly).</summary>
    internal async Task<GroupHealthRound> HealthRoundAsync(GroupHealthOptions options, ReportSchedule schedule, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var connections = Connections;
        // A drained node still answers: look at the slot records of live sessions now and then, and connect a moved
        // slot's new node at once (which records its re-seed and the closing of the mailbox on the old node).
        await Task.WhenAll(connections.Where(c => c.Reachable == true).Select(async c =>
        {
            try
            {
                if (await c.RefreshAsync(options.SlotRefreshInterval, cancellationToken).ConfigureAwait(false))
                    await c.GetSessionAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (MailboxUnavailableException)
            {
                // Reported below.
            }
        })).ConfigureAwait(false);
        // Probe what did not answer (or was never tried): a failed dial drops the cached resolution, so this also
        // follows a slot HQ moved.
        await Task.WhenAll(connections.Where(c => c.Reachable != true).Select(async c =>
        {
            try
            {
                await c.GetSessionAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (MailboxUnavailableException)
            {
                // Reported below.
            }
        })).ConfigureAwait(false);
        int reports = 0, unreachable = 0;
        foreach (var c in connections.Where(c => c.Reachable == true)) schedule.Recovered(c.Slot);
        var now = _options.TimeProvider.GetUtcNow();
        foreach (var failed in connections.Where(c => c.Reachable != true))
        {
            unreachable++;
            if (!SlotRecord.IsValidSlotName(failed.Slot)) continue;
            if (await ResolveTargetAsync(failed, cancellationToken).ConfigureAwait(false) is not { } target) continue;
            if (!schedule.Due(failed.Slot, target.ToString(), now)) continue;
            reports += await ReportSlotAsync(connections, failed, target, options.Region, options.ReportTimeout, cancellationToken).ConfigureAwait(false);
        }
        ReseedMetrics.Reports(reports);
        return new GroupHealthRound(unreachable, reports, Interlocked.Exchange(ref _movedSinceRound, 0), Store.ReseedJobs().Count);
    }

    /// <summary>Every successful connect (a push, pull or probe): a slot found on another node than the one last
    /// reached gets a re-seed job, and the health loop is woken.</summary>
    private void OnMailboxConnected(MailboxConnection connection)
    {
        if (connection.PeerId is not { } peer || _disposed != 0) return;
        try
        {
            if (Store.ObservePeer(connection.Generation, connection.Slot, peer.ToString()) is null) return;
        }
        catch (Exception e) when (e is ObjectDisposedException or Microsoft.Data.Sqlite.SqliteException)
        {
            LogObserveFailed(_logger, connection.Slot, e.Message); // noticed again on the next connect
            return;
        }
        Interlocked.Increment(ref _movedSinceRound);
        ReseedMetrics.JobStarted();
        LogSlotMoved(_logger, connection.Slot, peer.ToString());
        GroupHealthLoop? loop;
        lock (_healthLock) loop = _healthLoop;
        loop?.Wake();
    }

    private async Task<PeerId?> ResolveTargetAsync(MailboxConnection failed, CancellationToken cancellationToken)
    {
        try
        {
            // Of a split slot, the node this group uses (the one its other mailboxes' providers leave).
            var used = await UsedProvidersAsync(failed, cancellationToken).ConfigureAwait(false);
            return (await _resolver.ResolveAsync(failed.Slot, used, cancellationToken).ConfigureAwait(false)).PeerId;
        }
        catch (MailboxUnavailableException e)
        {
            LogReportFailed(_logger, failed.Slot, "-", e.Message);
            return null;
        }
    }

    private async Task<int> ReportSlotAsync(IReadOnlyList<MailboxConnection> connections, MailboxConnection failed, PeerId target, string region,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        var counted = 0;
        var now = _options.TimeProvider.GetUtcNow();
        foreach (var survivor in connections.Where(c => c.Reachable == true && c.PeerId is not null))
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
        return counted;
    }

    private long PendingReseeds()
    {
        try
        {
            return Store.ReseedJobs().Count;
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
    }

    /// <summary>Stops the health loop and drops its instruments (from <see cref="DisposeAsync"/>).</summary>
    private async ValueTask DisposeHealthAsync()
    {
        GroupHealthLoop? loop;
        lock (_healthLock) loop = _healthLoop;
        if (loop is not null) await loop.DisposeAsync().ConfigureAwait(false);
        lock (_healthLock) _reseedMetrics?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "health report about mailbox {Slot} to {Survivor} failed: {Reason}")]
    private static partial void LogReportFailed(ILogger logger, string slot, string survivor, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not record the node of mailbox {Slot}: {Reason}")]
    private static partial void LogObserveFailed(ILogger logger, string slot, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "mailbox {Slot} is now served by {PeerId}: re-seeding it from a survivor")]
    private static partial void LogSlotMoved(ILogger logger, string slot, string peerId);
}
