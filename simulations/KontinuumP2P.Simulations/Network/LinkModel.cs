namespace KontinuumP2P.Simulations.Network;

/// <summary>
/// Properties of the simulated links. Every random quantity is a hash of (seed, sender, receiver, message number), not
/// a draw from a shared generator, so it does not depend on the order in which threads send.
/// </summary>
public sealed record LinkModel
{
    /// <summary>Smallest one-way base latency of a link (each pair of nodes gets a fixed base in the range).</summary>
    public TimeSpan MinLatency { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Largest one-way base latency of a link.</summary>
    public TimeSpan MaxLatency { get; init; } = TimeSpan.FromMilliseconds(150);

    /// <summary>Extra per-message delay, uniform in [0, jitter].</summary>
    public TimeSpan Jitter { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Probability that one message (request or response) is lost; the sender then times out.</summary>
    public double Loss { get; init; }

    /// <summary>Bandwidth of each node's link in bits per second (serialisation delay = size / bandwidth).</summary>
    public long BandwidthBitsPerSecond { get; init; } = 10_000_000;

    /// <summary>Seed of the per-link and per-message draws.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        if (MinLatency < TimeSpan.Zero || MaxLatency < MinLatency) throw new ArgumentOutOfRangeException(nameof(MaxLatency), "need 0 <= min latency <= max latency");
        if (Jitter < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Jitter));
        if (Loss is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(Loss), "loss is a probability below 1");
        ArgumentOutOfRangeException.ThrowIfLessThan(BandwidthBitsPerSecond, 1000, nameof(BandwidthBitsPerSecond));
    }

    /// <summary>One-way delay of message <paramref name="sequence"/> from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public TimeSpan Delay(long from, long to, long sequence, int bytes)
    {
        // The base is symmetric: a link has one length whichever way a message travels.
        var baseShare = Mix.Unit(Seed, Math.Min(from, to), Math.Max(from, to), 0, 1);
        var jitterShare = Mix.Unit(Seed, from, to, sequence, 2);
        var baseTicks = MinLatency.Ticks + (long)((MaxLatency.Ticks - MinLatency.Ticks) * baseShare);
        var jitterTicks = (long)(Jitter.Ticks * jitterShare);
        var serialisation = (long)(bytes * 8.0 * TimeSpan.TicksPerSecond / BandwidthBitsPerSecond);
        return TimeSpan.FromTicks(baseTicks + jitterTicks + serialisation);
    }

    /// <summary>Whether message <paramref name="sequence"/> from <paramref name="from"/> to <paramref name="to"/> is lost.</summary>
    public bool IsLost(long from, long to, long sequence) => Loss > 0 && Mix.Unit(Seed, from, to, sequence, 3) < Loss;
}

/// <summary>SplitMix64-style mixing of a few integers into a uniform number; pure, so reproducible anywhere.</summary>
public static class Mix
{
    /// <summary>A 64-bit hash of the inputs.</summary>
    public static ulong Hash(long seed, long a, long b, long c, long salt)
    {
        var x = (ulong)seed;
        x = Step(x ^ (ulong)a);
        x = Step(x ^ (ulong)b);
        x = Step(x ^ (ulong)c);
        return Step(x ^ (ulong)salt);
    }

    /// <summary>A number in [0, 1) from the inputs.</summary>
    public static double Unit(long seed, long a, long b, long c, long salt) => (Hash(seed, a, b, c, salt) >> 11) * (1.0 / (1UL << 53));

    private static ulong Step(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
