namespace KontinuumP2P.Hq.Allocation;

/// <summary>Working state of a rebalance or drain plan: assignments and loads as moves are applied.</summary>
internal sealed class MoveState
{
    private readonly Dictionary<string, SlotInfo> _slots;
    private readonly Dictionary<string, int> _assigned;
    private readonly Dictionary<string, List<string>> _groupSlots;

    public MoveState(IReadOnlyList<SlotInfo> fleet, IReadOnlyList<GroupSlots> groups)
    {
        _slots = fleet.ToDictionary(s => s.Slot, StringComparer.Ordinal);
        _assigned = fleet.ToDictionary(s => s.Slot, s => s.AssignedGroups, StringComparer.Ordinal);
        _groupSlots = groups.ToDictionary(g => g.GroupId, g => g.Slots.ToList(), StringComparer.Ordinal);
    }

    public List<string> GroupsOn(string slot) =>
        [.. _groupSlots.Where(g => g.Value.Contains(slot)).Select(g => g.Key).Order(StringComparer.Ordinal)];

    public double LoadOf(string slot) => Load(slot, _assigned[slot]);

    public double LoadAfterAdd(string slot) => Load(slot, _assigned[slot] + 1);

    /// <summary>The least-loaded active slot of the role whose provider the group's other slots do not use.</summary>
    public string? BestTarget(string group, string leaving, MailboxRole role, string? exclude)
    {
        var current = _groupSlots[group];
        var used = new HashSet<string>(current.Where(s => s != leaving && _slots.ContainsKey(s)).Select(s => _slots[s].Provider), StringComparer.Ordinal);
        var leavingRegion = _slots.TryGetValue(leaving, out var l) ? l.Region : null;
        return _slots.Values
            .Where(s => s.Role == role && s.Status == SlotStatus.Active && s.Slot != exclude && s.Slot != leaving
                && !current.Contains(s.Slot) && !used.Contains(s.Provider) && _assigned[s.Slot] < s.CapacityGroups)
            .OrderBy(s => s.Region == leavingRegion ? 0 : 1)
            .ThenBy(s => LoadOf(s.Slot))
            .ThenBy(s => s.Slot, StringComparer.Ordinal)
            .Select(s => s.Slot)
            .FirstOrDefault();
    }

    public GroupMove Move(string group, string from, string to)
    {
        var list = _groupSlots[group];
        list[list.IndexOf(from)] = to;
        _assigned[from]--;
        _assigned[to]++;
        return new GroupMove(group, from, to);
    }

    private double Load(string slot, int assigned)
    {
        var cap = _slots[slot].CapacityGroups;
        return cap <= 0 ? 1 : (double)assigned / cap;
    }
}
