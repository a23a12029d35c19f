namespace KontinuumP2P.Mailbox.Health;

/// <summary>Escalation tiers of the orchestration seed (§4), lowest first.</summary>
public enum HealthLevel
{
    /// <summary>No evidence of failure.</summary>
    Green = 0,

    /// <summary>Watch: more than the threshold of unique registered devices reported the target within the window.</summary>
    Yellow = 1,

    /// <summary>Degraded: consecutive mailbox-to-mailbox health checks failed.</summary>
    Orange = 2,

    /// <summary>Confirmed down (at a mailbox: continuous failure for the RED period; at HQ: confirmed by enough mailboxes).</summary>
    Red = 3,

    /// <summary>Provider down: HQ saw several mailboxes of one provider go RED within a window.</summary>
    Black = 4,
}
