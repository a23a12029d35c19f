namespace KontinuumP2P.Mailbox.Health;

/// <summary>
/// The layer-2 escalation state machine of one mailbox (sans-I/O): counts unique registered devices reporting each
/// target within a sliding window, asks for health checks while a target is watched, and moves it GREEN → YELLOW →
/// ORANGE → RED (local RED; HQ confirms across mailboxes). A successful check clears everything about the target.
/// Memory is bounded: devices per target and targets are capped, oldest evicted. Not thread-safe: the owner locks.
/// </summary>
/// <remarks>
/// Reports must come only from devices registered at this mailbox (the protocol handler filters them); reports alone
/// never go past YELLOW, because ORANGE and RED need this mailbox's own failed checks.
/// </remarks>
public sealed class MailboxHealthMonitor
{
    private readonly HealthMonitorOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<HealthTarget, TargetState> _targets = [];

    /// <summary>Creates the monitor.</summary>
    public MailboxHealthMonitor(HealthMonitorOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>The options in force.</summary>
    public HealthMonitorOptions Options => _options;

    /// <summary>Targets tracked now (at most <see cref="HealthMonitorOptions.MaxTargets"/>).</summary>
    public int TrackedTargets => _targets.Count;

    /// <summary>
    /// Records that a registered device could not reach <paramref name="target"/>. Returns the transition to YELLOW
    /// when this report crossed the threshold, otherwise null.
    /// </summary>
    public HealthTransition? RecordReport(HealthTarget target, ReadOnlySpan<byte> deviceId)
    {
        if (deviceId.IsEmpty || deviceId.Length > 64) throw new ArgumentException("device id must be 1..64 bytes", nameof(deviceId));
        var now = _time.GetUtcNow();
        var state = GetOrAdd(target, now);
        state.LastActivity = now;
        state.Prune(now - _options.ReportWindow);
        var key = Convert.ToHexString(deviceId);
        if (!state.Devices.ContainsKey(key) && state.Devices.Count >= _options.MaxDevicesPerTarget) state.EvictOldestDevice();
        state.Devices[key] = now;
        if (state.Level != HealthLevel.Green || state.Devices.Count <= _options.YellowReportThreshold) return null;
        state.NextCheckAt = now;
        return Move(state, HealthLevel.Yellow, now);
    }

    /// <summary>
    /// Watched targets due a health check now; each is scheduled for its next check one interval from now, so a
    /// caller that polls often asks for each check once.
    /// </summary>
    public IReadOnlyList<HealthTarget> TakeDueChecks()
    {
        var now = _time.GetUtcNow();
        List<HealthTarget>? due = null;
        foreach (var state in _targets.Values)
        {
            if (state.NextCheckAt is not { } at || at > now) continue;
            state.NextCheckAt = now + _options.CheckInterval;
            (due ??= []).Add(state.Target);
        }
        return due ?? (IReadOnlyList<HealthTarget>)[];
    }

    /// <summary>The earliest time a check falls due, or null when nothing is watched.</summary>
    public DateTimeOffset? NextCheckAt() => _targets.Values.Where(s => s.NextCheckAt.HasValue).Min(s => s.NextCheckAt);

    /// <summary>
    /// Records a health check's outcome. A failure may move the target to ORANGE or RED; a success clears it to GREEN.
    /// Returns the transition, if any. Checks of targets no longer watched are ignored.
    /// </summary>
    public HealthTransition? RecordCheck(HealthTarget target, bool succeeded)
    {
        if (!_targets.TryGetValue(target, out var state) || state.Level == HealthLevel.Green) return null;
        var now = _time.GetUtcNow();
        state.LastActivity = now;
        if (succeeded)
        {
            var cleared = Move(state, HealthLevel.Green, now);
            _targets.Remove(target);
            return cleared;
        }
        state.ConsecutiveFailures++;
        state.FailingSince ??= now;
        var next = state.Level;
        if (state.ConsecutiveFailures >= _options.OrangeConsecutiveFailures && next < HealthLevel.Orange) next = HealthLevel.Orange;
        if (next == HealthLevel.Orange && now - state.FailingSince.Value >= _options.RedAfter) next = HealthLevel.Red;
        return next == state.Level ? null : Move(state, next, now);
    }

    /// <summary>
    /// Non-GREEN targets whose last alert to HQ is older than <see cref="HealthMonitorOptions.AlertRefreshInterval"/>;
    /// each is marked as alerted now.
    /// </summary>
    public IReadOnlyList<TargetStatus> TakeAlertRefreshes()
    {
        var now = _time.GetUtcNow();
        List<TargetStatus>? due = null;
        foreach (var state in _targets.Values)
        {
            if (state.Level == HealthLevel.Green || now - state.LastAlertAt < _options.AlertRefreshInterval) continue;
            state.LastAlertAt = now;
            (due ??= []).Add(state.ToStatus(now - _options.ReportWindow));
        }
        return due ?? (IReadOnlyList<TargetStatus>)[];
    }

    /// <summary>The status of one target (GREEN with no reports when untracked).</summary>
    public TargetStatus Get(HealthTarget target) =>
        _targets.TryGetValue(target, out var state)
            ? state.ToStatus(_time.GetUtcNow() - _options.ReportWindow)
            : new TargetStatus(target, HealthLevel.Green, 0, 0, null, null);

    /// <summary>Every tracked target.</summary>
    public IReadOnlyList<TargetStatus> Snapshot()
    {
        var since = _time.GetUtcNow() - _options.ReportWindow;
        return [.. _targets.Values.Select(s => s.ToStatus(since))];
    }

    private TargetState GetOrAdd(HealthTarget target, DateTimeOffset now)
    {
        if (_targets.TryGetValue(target, out var state)) return state;
        if (_targets.Count >= _options.MaxTargets) Evict();
        state = new TargetState(target);
        _targets[target] = state;
        return state;
    }

    // Healthy, quiet targets go first; a watched target is evicted only when every tracked target is watched.
    private void Evict()
    {
        TargetState? victim = null;
        foreach (var s in _targets.Values)
        {
            if (victim is null) { victim = s; continue; }
            var better = (s.Level == HealthLevel.Green, victim.Level == HealthLevel.Green) switch
            {
                (true, false) => true,
                (false, true) => false,
                _ => s.LastActivity < victim.LastActivity,
            };
            if (better) victim = s;
        }
        if (victim is not null) _targets.Remove(victim.Target);
    }

    private HealthTransition Move(TargetState state, HealthLevel to, DateTimeOffset now)
    {
        var from = state.Level;
        state.Level = to;
        state.LastAlertAt = now;
        var since = now - _options.ReportWindow;
        return new HealthTransition(state.Target, from, to, now, state.CountSince(since), state.ConsecutiveFailures,
            state.FailingSince, state.Devices.Count == 0 ? null : state.Devices.Values.Min());
    }

    private sealed class TargetState(HealthTarget target)
    {
        public HealthTarget Target { get; } = target;
        public Dictionary<string, DateTimeOffset> Devices { get; } = [];
        public HealthLevel Level { get; set; }
        public int ConsecutiveFailures { get; set; }
        public DateTimeOffset? FailingSince { get; set; }
        public DateTimeOffset? NextCheckAt { get; set; }
        public DateTimeOffset LastActivity { get; set; }
        public DateTimeOffset LastAlertAt { get; set; }

        // Reports at or before the cutoff are outside the window (the window is open at its old end).
        public void Prune(DateTimeOffset cutoff)
        {
            List<string>? stale = null;
            foreach (var (k, t) in Devices)
            {
                if (t <= cutoff) (stale ??= []).Add(k);
            }
            if (stale is null) return;
            foreach (var k in stale) Devices.Remove(k);
        }

        public int CountSince(DateTimeOffset cutoff) => Devices.Values.Count(t => t > cutoff);

        public void EvictOldestDevice()
        {
            var oldest = Devices.MinBy(kv => kv.Value);
            Devices.Remove(oldest.Key);
        }

        public TargetStatus ToStatus(DateTimeOffset cutoff) =>
            new(Target, Level, CountSince(cutoff), ConsecutiveFailures, FailingSince, NextCheckAt);
    }
}
