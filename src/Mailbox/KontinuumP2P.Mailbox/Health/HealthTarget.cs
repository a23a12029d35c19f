using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Mailbox.Health;

/// <summary>
/// A mailbox as reported: its slot and the node that held the slot when it failed (a replacement of the same slot
/// is a different target, so reports about the dead node never count against it).
/// </summary>
/// <param name="Slot">Slot name such as <c>mbx-eu-042</c>.</param>
/// <param name="NodeId">The node the reporters could not reach.</param>
public readonly record struct HealthTarget(string Slot, PeerId NodeId)
{
    /// <inheritdoc />
    public override string ToString() => $"{Slot}@{NodeId}";
}

/// <summary>A change of a target's level, to be alerted to HQ.</summary>
/// <param name="Target">The target.</param>
/// <param name="From">Level before.</param>
/// <param name="To">Level after.</param>
/// <param name="At">When it changed.</param>
/// <param name="UniqueReporters">Unique registered devices that reported it within the window.</param>
/// <param name="ConsecutiveFailures">Failed checks in a row.</param>
/// <param name="FailingSince">First failed check of the current run, if failing.</param>
/// <param name="FirstReportAt">Earliest report still remembered.</param>
public sealed record HealthTransition(
    HealthTarget Target, HealthLevel From, HealthLevel To, DateTimeOffset At, int UniqueReporters, int ConsecutiveFailures,
    DateTimeOffset? FailingSince, DateTimeOffset? FirstReportAt);

/// <summary>What a mailbox currently knows of one target.</summary>
/// <param name="Target">The target.</param>
/// <param name="Level">Its level.</param>
/// <param name="UniqueReporters">Unique registered devices that reported it within the window.</param>
/// <param name="ConsecutiveFailures">Failed checks in a row.</param>
/// <param name="FailingSince">First failed check of the current run, if failing.</param>
/// <param name="NextCheckAt">When it is next due a check, if watched.</param>
public sealed record TargetStatus(
    HealthTarget Target, HealthLevel Level, int UniqueReporters, int ConsecutiveFailures, DateTimeOffset? FailingSince, DateTimeOffset? NextCheckAt);
