namespace KontinuumP2P.Net.Discovery.Bootstrap;

/// <summary>
/// Capped exponential backoff with "equal jitter": the n-th consecutive failure waits between half and all of
/// min(<see cref="Max"/>, <see cref="Initial"/> × <see cref="Multiplier"/>^(n-1)). Delays keep growing (each at least
/// half the nominal) while many clients that failed together spread out instead of retrying in lockstep.
/// </summary>
/// <param name="Initial">Nominal delay after the first failure.</param>
/// <param name="Max">Cap of the nominal delay.</param>
/// <param name="Multiplier">Growth per failure.</param>
public sealed record BackoffPolicy(TimeSpan Initial, TimeSpan Max, double Multiplier = 2.0)
{
    /// <summary>The nominal (un-jittered) delay after <paramref name="failures"/> consecutive failures.</summary>
    public TimeSpan Nominal(int failures)
    {
        if (failures <= 0) return TimeSpan.Zero;
        var factor = Math.Pow(Multiplier, Math.Min(failures - 1, 64));
        var ticks = Math.Min(Max.Ticks, Initial.Ticks * factor);
        return TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>The jittered delay: uniform in [nominal/2, nominal].</summary>
    public TimeSpan Next(int failures, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var nominal = Nominal(failures);
        return TimeSpan.FromTicks(nominal.Ticks / 2 + (long)(random.NextDouble() * (nominal.Ticks / 2)));
    }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">Non-positive delays, max below initial, or multiplier below 1.</exception>
    public void Validate()
    {
        if (Initial <= TimeSpan.Zero || Max < Initial) throw new ArgumentException("backoff needs 0 < Initial <= Max");
        if (Multiplier < 1) throw new ArgumentException("backoff Multiplier must be at least 1");
    }
}
