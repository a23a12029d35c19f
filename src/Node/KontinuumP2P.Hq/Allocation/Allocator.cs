namespace KontinuumP2P.Hq.Allocation;

/// <summary>
/// Pure allocation rules (orchestration seed §6): provider diversity is hard (no group ever has two mailboxes on one
/// provider); then region, load and headroom are preferences, in that order. Deterministic for equal inputs.
/// </summary>
public static partial class Allocator
{
    /// <summary>Chooses <paramref name="count"/> slots of <paramref name="role"/> on distinct providers for a new group.</summary>
    /// <param name="fleet">Every slot.</param>
    /// <param name="role">Role wanted.</param>
    /// <param name="region">Preferred region (nearest first), or null.</param>
    /// <param name="unhealthyProviders">Providers with an open incident: never chosen.</param>
    /// <param name="count">Mailboxes per group (3).</param>
    /// <exception cref="AllocationException">Fewer than <paramref name="count"/> providers have a usable slot.</exception>
    public static IReadOnlyList<string> AllocateGroup(IReadOnlyList<SlotInfo> fleet, MailboxRole role, string? region,
        IReadOnlySet<string> unhealthyProviders, int count = 3)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(unhealthyProviders);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var chosen = new List<string>(count);
        var providers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var slot in Rank(fleet.Where(s => Usable(s, role, unhealthyProviders)), region))
        {
            if (!providers.Add(slot.Provider)) continue;
            chosen.Add(slot.Slot);
            if (chosen.Count == count) return chosen;
        }
        throw new AllocationException(
            $"only {chosen.Count} provider(s) have an active {role.ToString().ToLowerInvariant()} slot with headroom; a group needs {count} on distinct providers");
    }

    /// <summary>
    /// Gives each failed slot a spare on a provider that none of the slot's groups already uses (counting replacements
    /// made earlier in the same plan), preferring the slot's region, then the provider with the fewest slots, so
    /// replacements spread over the surviving providers. A slot with no such spare is left unplaced.
    /// </summary>
    public static ReplacementPlan PlanReplacements(IReadOnlyList<SlotInfo> fleet, IReadOnlyList<GroupSlots> groups,
        IReadOnlyCollection<string> failedSlots, IReadOnlySet<string> unhealthyProviders, IReadOnlyList<SpareIdentity> spares)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(failedSlots);
        ArgumentNullException.ThrowIfNull(unhealthyProviders);
        ArgumentNullException.ThrowIfNull(spares);
        var failed = new HashSet<string>(failedSlots, StringComparer.Ordinal);
        // Providers slots will have after the plan; a failed slot counts on no provider until it is placed.
        var providerOf = fleet.ToDictionary(s => s.Slot, s => failed.Contains(s.Slot) ? null : s.Provider, StringComparer.Ordinal);
        var regionOf = fleet.ToDictionary(s => s.Slot, s => s.Region, StringComparer.Ordinal);
        var groupsOf = GroupsBySlot(groups);
        var perProvider = fleet.Where(s => !failed.Contains(s.Slot) && s.Status is SlotStatus.Active or SlotStatus.Draining)
            .GroupBy(s => s.Provider, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var available = spares.Where(s => !unhealthyProviders.Contains(s.Provider)).ToList();
        var replacements = new List<Replacement>();
        var unplaced = new List<Unplaced>();
        // The most constrained slots (most co-assigned providers) choose first.
        var order = failed.Where(providerOf.ContainsKey)
            .OrderByDescending(s => Forbidden(s, groupsOf, providerOf).Count).ThenBy(s => s, StringComparer.Ordinal).ToList();
        foreach (var slot in order)
        {
            var forbidden = Forbidden(slot, groupsOf, providerOf);
            var region = regionOf[slot];
            var spare = available.Where(s => !forbidden.Contains(s.Provider))
                .OrderBy(s => s.Region == region ? 0 : 1)
                .ThenBy(s => perProvider.GetValueOrDefault(s.Provider))
                .ThenBy(s => s.Provider, StringComparer.Ordinal)
                .ThenBy(s => s.Id, StringComparer.Ordinal)
                .FirstOrDefault();
            if (spare is null)
            {
                unplaced.Add(new Unplaced(slot, available.Count == 0
                    ? "no spare identity on a healthy provider"
                    : $"every healthy provider with a spare already serves one of its groups ({string.Join(", ", forbidden.Order(StringComparer.Ordinal))})"));
                continue;
            }
            available.Remove(spare);
            providerOf[slot] = spare.Provider;
            perProvider[spare.Provider] = perProvider.GetValueOrDefault(spare.Provider) + 1;
            replacements.Add(new Replacement(slot, spare));
        }
        foreach (var slot in failed.Where(s => !providerOf.ContainsKey(s)).Order(StringComparer.Ordinal))
            unplaced.Add(new Unplaced(slot, "unknown slot"));
        return new ReplacementPlan(replacements, unplaced);
    }

    /// <summary>
    /// Moves groups off slots loaded above the fleet's mean load (of the same role) by more than
    /// <paramref name="tolerance"/>, onto the least-loaded active slot whose provider the group does not use yet.
    /// </summary>
    public static IReadOnlyList<GroupMove> PlanRebalance(IReadOnlyList<SlotInfo> fleet, IReadOnlyList<GroupSlots> groups,
        double tolerance, int maxMoves)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(groups);
        var state = new MoveState(fleet, groups);
        var moves = new List<GroupMove>();
        foreach (var role in new[] { MailboxRole.Ephemeral, MailboxRole.Replica })
        {
            var active = fleet.Where(s => s.Role == role && s.Status == SlotStatus.Active && s.CapacityGroups > 0).ToList();
            if (active.Count < 2) continue;
            var mean = active.Sum(s => s.AssignedGroups) / (double)active.Sum(s => s.CapacityGroups);
            foreach (var slot in active.OrderByDescending(s => s.Load).ThenBy(s => s.Slot, StringComparer.Ordinal))
            {
                foreach (var group in state.GroupsOn(slot.Slot))
                {
                    if (moves.Count >= maxMoves || state.LoadOf(slot.Slot) <= mean + tolerance) break;
                    var target = state.BestTarget(group, slot.Slot, role, exclude: null);
                    if (target is null || state.LoadAfterAdd(target) > mean + tolerance) continue;
                    moves.Add(state.Move(group, slot.Slot, target));
                }
            }
        }
        return moves;
    }

    /// <summary>Moves every group off <paramref name="drainingSlot"/>; groups with no diverse target stay (reported by the caller).</summary>
    public static IReadOnlyList<GroupMove> PlanDrain(IReadOnlyList<SlotInfo> fleet, IReadOnlyList<GroupSlots> groups, string drainingSlot)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(groups);
        var draining = fleet.FirstOrDefault(s => s.Slot == drainingSlot) ?? throw new AllocationException($"unknown slot '{drainingSlot}'");
        var state = new MoveState(fleet, groups);
        var moves = new List<GroupMove>();
        foreach (var group in state.GroupsOn(drainingSlot))
        {
            var target = state.BestTarget(group, drainingSlot, draining.Role, exclude: drainingSlot);
            if (target is not null) moves.Add(state.Move(group, drainingSlot, target));
        }
        return moves;
    }

    /// <summary>Whether no group has two of its usable slots on one provider.</summary>
    public static bool IsDiverse(IReadOnlyList<SlotInfo> fleet, IEnumerable<GroupSlots> groups)
    {
        var providerOf = fleet.Where(s => s.Status != SlotStatus.Down && s.Status != SlotStatus.Retired)
            .ToDictionary(s => s.Slot, s => s.Provider, StringComparer.Ordinal);
        return groups.All(g =>
        {
            var providers = g.Slots.Where(providerOf.ContainsKey).Select(s => providerOf[s]).ToList();
            return providers.Distinct(StringComparer.Ordinal).Count() == providers.Count;
        });
    }

    private static bool Usable(SlotInfo s, MailboxRole role, IReadOnlySet<string> unhealthy) =>
        s.Role == role && s.Status == SlotStatus.Active && s.Headroom > 0 && !unhealthy.Contains(s.Provider);

    private static IEnumerable<SlotInfo> Rank(IEnumerable<SlotInfo> slots, string? region) =>
        slots.OrderBy(s => region is not null && s.Region == region ? 0 : 1)
            .ThenBy(s => s.Load)
            .ThenByDescending(s => s.Headroom)
            .ThenBy(s => s.Slot, StringComparer.Ordinal);

    private static HashSet<string> Forbidden(string slot, Dictionary<string, List<GroupSlots>> groupsOf, Dictionary<string, string?> providerOf)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        if (!groupsOf.TryGetValue(slot, out var gs)) return set;
        foreach (var g in gs)
        {
            foreach (var other in g.Slots)
            {
                if (other != slot && providerOf.GetValueOrDefault(other) is { } p) set.Add(p);
            }
        }
        return set;
    }
}
