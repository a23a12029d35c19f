namespace KontinuumP2P.Hq.Allocation;

public static partial class Allocator
{
    /// <summary>
    /// Splits each failed slot over live nodes: one active slot's node per healthy provider, so that each of the
    /// slot's groups finds a node on a provider none of its other mailboxes uses. No group-level record is needed:
    /// the client applies the same first-fit rule over the record's parts (<c>SlotRecord.NodeFor</c>) that this plan
    /// uses to count each part's groups. A host must have headroom for the groups that will pick it (counting parts
    /// planned earlier); a provider without such a host is left out and the groups re-pick. Providers are ordered by
    /// load, so groups with a choice land on the emptiest; hosts by region, then load, then headroom.
    /// </summary>
    /// <param name="fleet">Every slot (assigned counts include existing split parts).</param>
    /// <param name="groups">Every group and its slots.</param>
    /// <param name="splits">Splits in force (a failed slot's own split, if any, is replaced and its load released).</param>
    /// <param name="failedSlots">Slots to split.</param>
    /// <param name="unhealthyProviders">Providers with an open incident: never used.</param>
    /// <param name="maxNodes">Most parts per split (the record's bound).</param>
    public static SplitPlan PlanSplits(IReadOnlyList<SlotInfo> fleet, IReadOnlyList<GroupSlots> groups, IReadOnlyList<SlotSplit> splits,
        IReadOnlyCollection<string> failedSlots, IReadOnlySet<string> unhealthyProviders, int maxNodes = 8)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(splits);
        ArgumentNullException.ThrowIfNull(failedSlots);
        ArgumentNullException.ThrowIfNull(unhealthyProviders);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNodes, 1);
        var info = fleet.ToDictionary(s => s.Slot, StringComparer.Ordinal);
        var failed = new HashSet<string>(failedSlots.Where(info.ContainsKey), StringComparer.Ordinal);
        var assigned = fleet.ToDictionary(s => s.Slot, s => s.AssignedGroups, StringComparer.Ordinal);
        var splitOf = new Dictionary<string, IReadOnlyList<SplitPart>>(StringComparer.Ordinal);
        foreach (var s in splits)
        {
            if (!failed.Contains(s.Slot))
            {
                splitOf[s.Slot] = s.Parts;
                continue;
            }
            foreach (var p in s.Parts.Where(p => assigned.ContainsKey(p.HostSlot))) assigned[p.HostSlot] -= p.Groups;
        }
        var groupsOf = GroupsBySlot(groups);
        var result = new List<SlotSplit>();
        var unplaced = new List<Unplaced>();
        var stranded = 0;
        foreach (var slot in failed.Order(StringComparer.Ordinal))
        {
            var failedInfo = info[slot];
            var hosts = fleet.Where(s => s.Role == failedInfo.Role && s.Status == SlotStatus.Active && !failed.Contains(s.Slot)
                && !unhealthyProviders.Contains(s.Provider)).ToList();
            var used = groupsOf.GetValueOrDefault(slot, []).Select(g => UsedProviders(g, slot, info, splitOf)).ToList();
            var candidates = hosts.Select(h => h.Provider).Distinct(StringComparer.Ordinal).ToList();
            while (true)
            {
                var ordered = candidates.OrderBy(p => ProviderLoad(hosts, assigned, p)).ThenBy(p => p, StringComparer.Ordinal).Take(maxNodes).ToList();
                var counts = new Dictionary<string, int>(StringComparer.Ordinal);
                var none = 0;
                foreach (var u in used)
                {
                    if (ordered.FirstOrDefault(p => !u.Contains(p)) is { } pick) counts[pick] = counts.GetValueOrDefault(pick) + 1;
                    else none++;
                }
                var parts = new List<SplitPart>();
                string? full = null;
                foreach (var provider in ordered.Where(counts.ContainsKey))
                {
                    var host = hosts.Where(h => h.Provider == provider && h.CapacityGroups - assigned[h.Slot] >= counts[provider])
                        .OrderBy(h => h.Region == failedInfo.Region ? 0 : 1)
                        .ThenBy(h => (double)assigned[h.Slot] / Math.Max(1, h.CapacityGroups))
                        .ThenBy(h => h.Slot, StringComparer.Ordinal)
                        .FirstOrDefault();
                    if (host is null)
                    {
                        full = provider;
                        break;
                    }
                    parts.Add(new SplitPart(provider, host.Slot, counts[provider]));
                }
                if (full is not null)
                {
                    candidates.Remove(full);
                    continue;
                }
                if (parts.Count == 0)
                {
                    unplaced.Add(new Unplaced(slot, used.Count == 0 ? "no group uses it" : "no live node on a provider its groups do not use has headroom"));
                    stranded += none;
                    break;
                }
                foreach (var p in parts) assigned[p.HostSlot] += p.Groups;
                splitOf[slot] = parts;
                result.Add(new SlotSplit(slot, parts));
                stranded += none;
                break;
            }
        }
        return new SplitPlan(result, unplaced, stranded);
    }

    /// <summary>
    /// The provider of each of a group's slots as its clients resolve them: a live slot's own provider, a split
    /// slot's first part off the group's other providers, null for a slot that serves nothing (down, retired, or a
    /// split with no fitting part). A group is whole when it has no null and no provider twice.
    /// </summary>
    public static IReadOnlyList<string?> ProvidersOf(GroupSlots group, IReadOnlyList<SlotInfo> fleet, IReadOnlyList<SlotSplit> splits)
    {
        ArgumentNullException.ThrowIfNull(group);
        var info = fleet.ToDictionary(s => s.Slot, StringComparer.Ordinal);
        var splitOf = splits.ToDictionary(s => s.Slot, s => s.Parts, StringComparer.Ordinal);
        return [.. group.Slots.Select(s => ResolvedProvider(group, s, info, splitOf))];
    }

    // What a group's other slots use, as its client sees them: plain live slots first, then split ones in slot order.
    private static HashSet<string> UsedProviders(GroupSlots group, string except, Dictionary<string, SlotInfo> info,
        Dictionary<string, IReadOnlyList<SplitPart>> splitOf)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in group.Slots.Where(s => s != except && !splitOf.ContainsKey(s)))
        {
            if (info.TryGetValue(s, out var i) && i.Status is SlotStatus.Active or SlotStatus.Draining) used.Add(i.Provider);
        }
        foreach (var s in group.Slots.Where(s => s != except && splitOf.ContainsKey(s)).Order(StringComparer.Ordinal))
        {
            if (splitOf[s].FirstOrDefault(p => !used.Contains(p.Provider)) is { } pick) used.Add(pick.Provider);
        }
        return used;
    }

    private static string? ResolvedProvider(GroupSlots group, string slot, Dictionary<string, SlotInfo> info, Dictionary<string, IReadOnlyList<SplitPart>> splitOf)
    {
        if (splitOf.TryGetValue(slot, out var parts))
        {
            var used = UsedProviders(group, slot, info, splitOf);
            return parts.FirstOrDefault(p => !used.Contains(p.Provider))?.Provider;
        }
        return info.TryGetValue(slot, out var i) && i.Status is SlotStatus.Active or SlotStatus.Draining ? i.Provider : null;
    }

    private static double ProviderLoad(List<SlotInfo> hosts, Dictionary<string, int> assigned, string provider)
    {
        var mine = hosts.Where(h => h.Provider == provider).ToList();
        return mine.Sum(h => assigned[h.Slot]) / (double)Math.Max(1, mine.Sum(h => h.CapacityGroups));
    }

    private static Dictionary<string, List<GroupSlots>> GroupsBySlot(IReadOnlyList<GroupSlots> groups)
    {
        var groupsOf = new Dictionary<string, List<GroupSlots>>(StringComparer.Ordinal);
        foreach (var g in groups)
        {
            foreach (var s in g.Slots)
            {
                if (!groupsOf.TryGetValue(s, out var list)) groupsOf[s] = list = [];
                list.Add(g);
            }
        }
        return groupsOf;
    }
}
