using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq.Escalation;

/// <summary>
/// The live alerts about one slot's node, one entry per reporting mailbox. An entry remembers, for each level, when
/// that mailbox last asserted the target was at least that bad, so a mailbox whose own view drops back (its monitor
/// restarted, evicted the target, re-escalates from YELLOW) does not pull the slot down while its earlier, higher alert
/// is still fresh. Only a recovery (GREEN) from that mailbox or the alert's TTL removes support.
/// </summary>
internal sealed class SlotAlerts(string slot, PeerId nodeId, string provider)
{
    // Index 0 = YELLOW, 1 = ORANGE, 2 = RED: the last time the reporter asserted at least that level.
    private readonly Dictionary<PeerId, DateTimeOffset?[]> _reporters = [];

    public string Slot { get; } = slot;
    public PeerId NodeId { get; set; } = nodeId;
    public string Provider { get; set; } = provider;
    public HealthLevel Level { get; set; }
    public int Reporters => _reporters.Count;
    public int RedCount { get; private set; }

    public IEnumerable<PeerId> ReporterIds => _reporters.Keys;

    public void Clear()
    {
        _reporters.Clear();
        RedCount = 0;
    }

    public bool Withdraw(PeerId reporter) => _reporters.Remove(reporter);

    /// <summary>Records an alert of <paramref name="level"/> (YELLOW..RED); evicts the stalest reporter when full.</summary>
    public void Assert(PeerId reporter, HealthLevel level, DateTimeOffset now, int maxReporters)
    {
        if (!_reporters.TryGetValue(reporter, out var support))
        {
            if (_reporters.Count >= maxReporters) _reporters.Remove(_reporters.MinBy(r => LastSeen(r.Value)).Key);
            _reporters[reporter] = support = new DateTimeOffset?[3];
        }
        for (var l = HealthLevel.Yellow; l <= level; l++) support[(int)l - 1] = now;
    }

    /// <summary>Drops reporters whose every alert is older than the TTL or that are no longer fleet members.</summary>
    public bool Prune(DateTimeOffset now, TimeSpan ttl, Func<PeerId, bool> isMember)
    {
        var removed = false;
        foreach (var (reporter, support) in _reporters)
        {
            if (isMember(reporter) && now - LastSeen(support) < ttl) continue;
            _reporters.Remove(reporter);
            removed = true;
        }
        return removed;
    }

    /// <summary>
    /// The level the fresh alerts of fleet members support: RED when at least <paramref name="redConfirmations"/>
    /// mailboxes assert RED; otherwise the highest level any one asserts, capped at ORANGE.
    /// </summary>
    public HealthLevel Supported(DateTimeOffset now, TimeSpan ttl, int redConfirmations, Func<PeerId, bool> isMember)
    {
        var reds = 0;
        var highest = HealthLevel.Green;
        foreach (var (reporter, support) in _reporters)
        {
            if (!isMember(reporter)) continue;
            for (var l = HealthLevel.Red; l >= HealthLevel.Yellow; l--)
            {
                if (support[(int)l - 1] is not { } at || now - at >= ttl) continue;
                if (l == HealthLevel.Red) reds++;
                if (l > highest) highest = l;
                break;
            }
        }
        RedCount = reds;
        return reds >= redConfirmations ? HealthLevel.Red
            : highest >= HealthLevel.Orange ? HealthLevel.Orange
            : highest;
    }

    public SlotHealth ToHealth() => new(Slot, NodeId, Provider, Level, Reporters, RedCount);

    private static DateTimeOffset LastSeen(DateTimeOffset?[] support) => support.Max() ?? DateTimeOffset.MinValue;
}
