using System.Text.Json;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq;

public sealed partial class HqService
{
    /// <summary>
    /// Splits every slot still down after <see cref="ReplaceDownSlots"/> (no spare kept its groups diverse) over live
    /// nodes, one per healthy provider (<see cref="Allocator.PlanSplits"/>), and re-plans split slots whose host slot
    /// went down or changed node. Returns the splits with their new (split) records; the caller publishes them.
    /// Nothing is started: the hosts are serving mailboxes already.
    /// </summary>
    public IReadOnlyList<(SlotSplit Split, SlotRecord Record)> SplitDownSlots(string actor)
    {
        var slots = Registry.Slots();
        var byName = slots.ToDictionary(s => s.Slot, StringComparer.Ordinal);
        var splits = Registry.Splits();
        var due = DueDownSlots(slots);
        // A part whose host is no longer an active slot on the same node serves nobody: plan that split again.
        due.AddRange(splits.Where(kv => kv.Value.Any(p => byName.GetValueOrDefault(p.Part.HostSlot) is not { Status: SlotStatus.Active } host
            || host.NodeId != p.NodeId)).Select(kv => kv.Key));
        if (due.Count == 0) return [];
        HashSet<string> incidents;
        lock (_lock) incidents = [.. _escalation.ProviderIncidents];
        var plan = Allocator.PlanSplits([.. slots.Select(s => s.ToInfo())], Registry.Groups(),
            ToSplits(splits), due, incidents, SlotRecord.MaxNodes);
        var done = new List<(SlotSplit, SlotRecord)>();
        foreach (var split in plan.Splits)
        {
            var entry = Registry.SplitSlot(actor, split.Slot, [.. split.Parts.Select(p => new SplitPartEntry(p, byName[p.HostSlot].NodeId))]);
            lock (_lock) _escalation.RemoveSlot(split.Slot);
            done.Add((split, RecordOf(entry)));
        }
        if (plan.StrandedGroups > 0)
            Audit.Append(actor, "slot.split-stranded", JsonSerializer.Serialize(new { slots = plan.Splits.Select(s => s.Slot), groups = plan.StrandedGroups }));
        return done;
    }

    /// <summary>Every split slot and its parts (record order).</summary>
    public IReadOnlyList<SlotSplit> Splits() => ToSplits(Registry.Splits());

    /// <summary>The node ids a split slot's record names, by provider (empty when the slot is not split).</summary>
    public IReadOnlyDictionary<string, PeerId> SplitNodesOf(string slot) =>
        Registry.Splits().GetValueOrDefault(slot) is { } parts
            ? parts.ToDictionary(p => p.Part.Provider, p => PeerId.Parse(p.NodeId), StringComparer.Ordinal)
            : new Dictionary<string, PeerId>(StringComparer.Ordinal);

    // Down slots whose provisioning backoff has passed (a slot HQ gave up on is never due).
    private List<string> DueDownSlots(IReadOnlyList<SlotEntry> slots)
    {
        var now = _time.GetUtcNow();
        lock (_lock) return [.. slots.Where(s => s.Status == SlotStatus.Down && _retries.Ready(s.Slot, now)).Select(s => s.Slot)];
    }

    private static List<SlotSplit> ToSplits(IReadOnlyDictionary<string, IReadOnlyList<SplitPartEntry>> splits) =>
        [.. splits.Select(kv => new SlotSplit(kv.Key, [.. kv.Value.Select(p => p.Part)]))];
}
