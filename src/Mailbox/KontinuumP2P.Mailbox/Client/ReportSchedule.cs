namespace KontinuumP2P.Mailbox.Client;

/// <summary>
/// When to report an unreachable mailbox again (sans-I/O, the caller passes the time): the first report is due at
/// once, then after <c>first</c>, doubling up to <c>max</c> while the same node stays unreachable. A recovery, or the
/// slot resolving to another node (HQ moved it), ends the incident; a new failure starts again at once. One entry per
/// slot of the group, so its size is bounded by the group's slots.
/// </summary>
internal sealed class ReportSchedule(TimeSpan first, TimeSpan max)
{
    private readonly Dictionary<string, Incident> _incidents = new(StringComparer.Ordinal);

    public int Count => _incidents.Count;

    /// <summary>The slot answered: stop reporting it.</summary>
    public void Recovered(string slot) => _incidents.Remove(slot);

    /// <summary>
    /// The slot is unreachable and resolves to <paramref name="target"/>: whether a report is due now. A report made
    /// when due moves the next one out (backoff).
    /// </summary>
    public bool Due(string slot, string target, DateTimeOffset now)
    {
        if (!_incidents.TryGetValue(slot, out var incident) || incident.Target != target)
        {
            _incidents[slot] = new Incident(target, now + first, first);
            return true;
        }
        if (now < incident.Next) return false;
        var interval = TimeSpan.FromTicks(Math.Min(max.Ticks, incident.Interval.Ticks * 2));
        _incidents[slot] = incident with { Next = now + interval, Interval = interval };
        return true;
    }

    /// <summary>The interval before the next report of the slot (null when none is pending).</summary>
    public TimeSpan? Interval(string slot) => _incidents.TryGetValue(slot, out var i) ? i.Interval : null;

    private sealed record Incident(string Target, DateTimeOffset Next, TimeSpan Interval);
}
