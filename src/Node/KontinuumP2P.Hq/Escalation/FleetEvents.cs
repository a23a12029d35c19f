using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq.Escalation;

/// <summary>A slot's fleet level changed.</summary>
/// <param name="Slot">Slot name.</param>
/// <param name="NodeId">Node holding the slot.</param>
/// <param name="Provider">Its provider.</param>
/// <param name="From">Level before.</param>
/// <param name="To">Level after.</param>
/// <param name="At">When.</param>
/// <param name="RedConfirmations">Mailboxes currently reporting it RED.</param>
public sealed record FleetTransition(string Slot, PeerId NodeId, string Provider, HealthLevel From, HealthLevel To, DateTimeOffset At, int RedConfirmations);

/// <summary>A provider-level incident (BLACK): every slot of the provider is treated as down.</summary>
/// <param name="Provider">The provider.</param>
/// <param name="At">When it was declared.</param>
/// <param name="Slots">Every slot of the provider at that time.</param>
public sealed record ProviderIncident(string Provider, DateTimeOffset At, IReadOnlyList<string> Slots);

/// <summary>What one input to <see cref="FleetEscalation"/> changed.</summary>
/// <param name="Transitions">Slot level changes, in order.</param>
/// <param name="Incident">A provider incident declared by this input, if any.</param>
public sealed record EscalationResult(IReadOnlyList<FleetTransition> Transitions, ProviderIncident? Incident)
{
    /// <summary>Nothing changed.</summary>
    public static readonly EscalationResult None = new([], null);
}

/// <summary>A slot's state at HQ.</summary>
/// <param name="Slot">Slot name.</param>
/// <param name="NodeId">Current node.</param>
/// <param name="Provider">Provider.</param>
/// <param name="Level">Fleet level.</param>
/// <param name="Reporters">Mailboxes with a live alert about it.</param>
/// <param name="RedConfirmations">Of which report RED.</param>
public sealed record SlotHealth(string Slot, PeerId NodeId, string Provider, HealthLevel Level, int Reporters, int RedConfirmations);
