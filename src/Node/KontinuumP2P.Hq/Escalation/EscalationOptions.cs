namespace KontinuumP2P.Hq.Escalation;

/// <summary>HQ's side of the escalation thresholds (layer 3). Defaults follow the orchestration seed.</summary>
public sealed record EscalationOptions
{
    /// <summary>A slot is RED at HQ when at least this many independent mailboxes report it RED.</summary>
    public int RedConfirmations { get; init; } = 2;

    /// <summary>A mailbox's alert is forgotten when not refreshed for this long (mailboxes refresh every minute).</summary>
    public TimeSpan AlertTtl { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>BLACK when at least this many slots of one provider went RED within <see cref="BlackWindow"/>.</summary>
    public int BlackRedSlots { get; init; } = 3;

    /// <summary>Window for correlated RED slots of one provider.</summary>
    public TimeSpan BlackWindow { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Most reporting mailboxes remembered per slot (oldest alert evicted first).</summary>
    public int MaxReportersPerSlot { get; init; } = 64;

    /// <summary>Most slots tracked (the fleet size bound).</summary>
    public int MaxSlots { get; init; } = 100_000;

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(RedConfirmations, 1, nameof(RedConfirmations));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AlertTtl, TimeSpan.Zero, nameof(AlertTtl));
        ArgumentOutOfRangeException.ThrowIfLessThan(BlackRedSlots, 2, nameof(BlackRedSlots));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(BlackWindow, TimeSpan.Zero, nameof(BlackWindow));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxReportersPerSlot, RedConfirmations, nameof(MaxReportersPerSlot));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSlots, 1, nameof(MaxSlots));
    }
}
