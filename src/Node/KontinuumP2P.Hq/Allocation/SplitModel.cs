namespace KontinuumP2P.Hq.Allocation;

/// <summary>One node of a split slot: the active slot whose node serves the groups that pick this provider.</summary>
/// <param name="Provider">The provider.</param>
/// <param name="HostSlot">The active slot whose node takes the groups.</param>
/// <param name="Groups">Groups expected to pick it (counted on the host's load).</param>
public sealed record SplitPart(string Provider, string HostSlot, int Groups);

/// <summary>
/// A slot served by one node per provider after its own node failed and no spare kept every group diverse; its
/// record lists the parts in this order, and each group's client takes the first part whose provider it does not use.
/// </summary>
/// <param name="Slot">The split slot.</param>
/// <param name="Parts">Its parts, in record order.</param>
public sealed record SlotSplit(string Slot, IReadOnlyList<SplitPart> Parts);

/// <summary>The outcome of split planning.</summary>
/// <param name="Splits">Slots split over live nodes.</param>
/// <param name="Unplaced">Slots no live node could take.</param>
/// <param name="StrandedGroups">Groups of the split slots that no part fits (they stay on their other mailboxes).</param>
public sealed record SplitPlan(IReadOnlyList<SlotSplit> Splits, IReadOnlyList<Unplaced> Unplaced, int StrandedGroups);
