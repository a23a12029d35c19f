namespace KontinuumP2P.Hq.Allocation;

/// <summary>What a mailbox slot keeps (design §7).</summary>
public enum MailboxRole
{
    /// <summary>Blobs expire by TTL.</summary>
    Ephemeral = 0,

    /// <summary>Blobs kept until acknowledged; the group's durable copy.</summary>
    Replica = 1,
}

/// <summary>A slot's operational status in the fleet registry.</summary>
public enum SlotStatus
{
    /// <summary>Serving and open for new groups.</summary>
    Active = 0,

    /// <summary>Serving but taking no new groups; its groups are being moved away.</summary>
    Draining = 1,

    /// <summary>RED or BLACK: its node is considered gone.</summary>
    Down = 2,

    /// <summary>Decommissioned.</summary>
    Retired = 3,

    /// <summary>Its node is gone and its groups are served by live nodes of other slots, one per provider (split record); takes no new groups.</summary>
    Split = 4,
}

/// <summary>One slot as the allocator sees it.</summary>
/// <param name="Slot">Slot name.</param>
/// <param name="Provider">Provider of the node holding it.</param>
/// <param name="Region">Region (geo zone).</param>
/// <param name="Role">Role.</param>
/// <param name="Status">Status.</param>
/// <param name="AssignedGroups">Groups assigned to it.</param>
/// <param name="CapacityGroups">Groups it can hold.</param>
public sealed record SlotInfo(string Slot, string Provider, string Region, MailboxRole Role, SlotStatus Status, int AssignedGroups, int CapacityGroups)
{
    /// <summary>Groups it can still take.</summary>
    public int Headroom => Math.Max(0, CapacityGroups - AssignedGroups);

    /// <summary>Fraction of its capacity in use (1 when it has none).</summary>
    public double Load => CapacityGroups <= 0 ? 1 : (double)AssignedGroups / CapacityGroups;
}

/// <summary>A group and its slots (an opaque allocation id: HQ never learns a group secret).</summary>
/// <param name="GroupId">Allocation id.</param>
/// <param name="Slots">Its slots.</param>
public sealed record GroupSlots(string GroupId, IReadOnlyList<string> Slots);

/// <summary>A pre-certified spare identity that can take over a slot without an online ceremony.</summary>
/// <param name="Id">Identity id (its node id).</param>
/// <param name="Provider">Provider its certificate names.</param>
/// <param name="Region">Geo zone its certificate names.</param>
public sealed record SpareIdentity(string Id, string Provider, string Region);

/// <summary>A failed slot given a spare.</summary>
/// <param name="Slot">The slot.</param>
/// <param name="Spare">The spare that takes it over.</param>
public sealed record Replacement(string Slot, SpareIdentity Spare);

/// <summary>A failed slot left without a replacement, and why.</summary>
/// <param name="Slot">The slot.</param>
/// <param name="Reason">Why.</param>
public sealed record Unplaced(string Slot, string Reason);

/// <summary>The outcome of replacement planning.</summary>
/// <param name="Replacements">Slots given a spare.</param>
/// <param name="Unplaced">Slots left as they are (their groups run on their other mailboxes meanwhile).</param>
public sealed record ReplacementPlan(IReadOnlyList<Replacement> Replacements, IReadOnlyList<Unplaced> Unplaced);

/// <summary>Moving one group from one slot to another.</summary>
/// <param name="GroupId">The group.</param>
/// <param name="From">Slot it leaves.</param>
/// <param name="To">Slot it joins.</param>
public sealed record GroupMove(string GroupId, string From, string To);

/// <summary>No allocation satisfies the hard rules.</summary>
public sealed class AllocationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AllocationException(string message) : base(message)
    {
    }
}
