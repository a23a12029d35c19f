namespace KontinuumP2P.Mailbox.Client;

/// <summary>When a failed outbox row is tried again: 1 s doubling per failure up to 30 s, plus up to 5 s of jitter so
/// devices that lost the same mailbox do not come back in step.</summary>
public static class OutboxBackoff
{
    /// <summary>First delay.</summary>
    public static readonly TimeSpan Initial = TimeSpan.FromSeconds(1);

    /// <summary>Ceiling before jitter.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromSeconds(30);

    /// <summary>Largest jitter added.</summary>
    public static readonly TimeSpan MaxJitter = TimeSpan.FromSeconds(5);

    /// <summary>The delay after the <paramref name="failures"/>-th failure (1 = first), with <paramref name="jitter01"/>
    /// in [0, 1) choosing the jitter.</summary>
    public static TimeSpan Delay(int failures, double jitter01)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        if (jitter01 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(jitter01), jitter01, "jitter must be in [0, 1)");
        var exponent = Math.Min(failures - 1, 5);
        var baseDelay = TimeSpan.FromTicks(Math.Min(Initial.Ticks << exponent, Max.Ticks));
        return baseDelay + TimeSpan.FromTicks((long)(MaxJitter.Ticks * jitter01));
    }
}
