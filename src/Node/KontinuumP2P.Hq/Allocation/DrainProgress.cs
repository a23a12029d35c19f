namespace KontinuumP2P.Hq.Allocation;

/// <summary>A drained node's count of the mailboxes it still holds, as HQ received it (signed by that node).</summary>
/// <param name="OpenMailboxes">Mailboxes not closed yet.</param>
/// <param name="MailboxesWithBlobs">Of those, mailboxes still holding blobs (un-acknowledged or un-archived).</param>
/// <param name="ReceivedAt">When HQ received it (HQ's clock, not the node's).</param>
public sealed record DrainNodeReport(int OpenMailboxes, int MailboxesWithBlobs, DateTimeOffset ReceivedAt);

/// <summary>
/// Tracks one slot's drain (seed §6.3): its groups are moved away; an ephemeral slot may be decommissioned once no
/// group is left on it and its longest TTL has passed since the last move; a replica slot only once every moved
/// group's new replica has caught up. Sans-I/O: times come from the caller's <see cref="TimeProvider"/>.
/// </summary>
public sealed class DrainProgress
{
    private readonly HashSet<string> _waiting = new(StringComparer.Ordinal);
    private readonly HashSet<string> _stillAssigned;
    private DrainNodeReport? _report;
    private TimeSpan _settle;

    /// <summary>Starts a drain.</summary>
    /// <param name="slot">The slot.</param>
    /// <param name="role">Its role.</param>
    /// <param name="groups">Groups on it when the drain starts.</param>
    /// <param name="ttl">Longest blob TTL of an ephemeral slot.</param>
    /// <param name="startedAt">Start time.</param>
    public DrainProgress(string slot, MailboxRole role, IEnumerable<string> groups, TimeSpan ttl, DateTimeOffset startedAt)
    {
        Slot = slot;
        Role = role;
        Ttl = ttl;
        _stillAssigned = new HashSet<string>(groups, StringComparer.Ordinal);
        LastMoveAt = startedAt;
    }

    /// <summary>The slot.</summary>
    public string Slot { get; }

    /// <summary>Its role.</summary>
    public MailboxRole Role { get; }

    /// <summary>TTL ceiling of an ephemeral slot.</summary>
    public TimeSpan Ttl { get; }

    /// <summary>When the last group moved away.</summary>
    public DateTimeOffset LastMoveAt { get; private set; }

    /// <summary>Groups not moved yet.</summary>
    public IReadOnlyCollection<string> StillAssigned => _stillAssigned;

    /// <summary>Moved groups whose new replica has not caught up (replica role).</summary>
    public IReadOnlyCollection<string> AwaitingCatchUp => _waiting;

    /// <summary>Records that a group moved to another slot.</summary>
    public void GroupMoved(string group, DateTimeOffset at)
    {
        if (!_stillAssigned.Remove(group)) return;
        LastMoveAt = at;
        if (Role == MailboxRole.Replica) _waiting.Add(group);
    }

    /// <summary>Records that a moved group's new replica holds everything the old one held.</summary>
    public void CaughtUp(string group) => _waiting.Remove(group);

    /// <summary>
    /// The drained node's own count (a slot re-pointed as a whole moves all its groups at once, so HQ cannot tell them
    /// apart): a report received at least <paramref name="settle"/> after the last move (every client has re-resolved
    /// the slot by then) that shows no mailbox with blobs means every group has caught up: each client closes its
    /// mailbox on the old node only once the new node holds every blob id the old one had.
    /// </summary>
    public void NodeReported(DrainNodeReport report, TimeSpan settle)
    {
        ArgumentNullException.ThrowIfNull(report);
        _report = report;
        _settle = settle;
        if (report.MailboxesWithBlobs == 0 && report.ReceivedAt >= LastMoveAt + settle) _waiting.Clear();
    }

    /// <summary>Whether the slot's node may be terminated now, and if not why.</summary>
    public (bool Ready, string Reason) CanDecommission(DateTimeOffset now)
    {
        if (_stillAssigned.Count > 0) return (false, $"{_stillAssigned.Count} group(s) still assigned");
        if (Role == MailboxRole.Replica && _waiting.Count > 0 && _report is { } r)
        {
            return r.ReceivedAt < LastMoveAt + _settle
                ? (false, $"waiting for a drain report from the old node after {LastMoveAt + _settle:O} (clients re-resolve the slot until then)")
                : (false, $"the old node still holds {r.MailboxesWithBlobs} mailbox(es) with blobs ({r.OpenMailboxes} open) as of {r.ReceivedAt:O}");
        }
        if (Role == MailboxRole.Replica)
            return _waiting.Count > 0 ? (false, $"{_waiting.Count} group(s) whose new replica has not caught up (no drain report from the old node yet)") : (true, "all groups caught up");
        return now - LastMoveAt >= Ttl ? (true, "TTL window passed") : (false, $"ephemeral blobs may live until {LastMoveAt + Ttl:O}");
    }
}
