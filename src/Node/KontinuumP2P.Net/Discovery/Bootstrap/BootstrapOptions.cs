namespace KontinuumP2P.Net.Discovery.Bootstrap;

/// <summary>Settings of <see cref="BootstrapDialer"/>.</summary>
public sealed class BootstrapOptions
{
    /// <summary>Dial bootstrap peers while fewer peers than this are connected.</summary>
    public int MinConnections { get; init; } = 4;

    /// <summary>Retry delays per bootstrap peer (1 s growing to 10 min by default).</summary>
    public BackoffPolicy Backoff { get; init; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));

    /// <summary>The first dial waits a random time up to this, so a fleet restarting together does not dial at once.</summary>
    public TimeSpan StartJitter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>After a bootstrap peer disconnects, redial after a random time up to this (the same herd concern).</summary>
    public TimeSpan ReconnectJitter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the connection count is checked besides disconnect events.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit of one dial attempt (resolution plus handshake).</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many bootstrap peers are dialed at the same time.</summary>
    public int MaxParallelDials { get; init; } = 4;

    /// <summary>TTL given to the addresses of connected bootstrap peers in discovery results.</summary>
    public TimeSpan AddressTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Seed of the jitter source; null for a random seed (tests fix it).</summary>
    public int? RandomSeed { get; init; }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Backoff);
        Backoff.Validate();
        if (MinConnections < 1 || MaxParallelDials < 1) throw new ArgumentException("MinConnections and MaxParallelDials must be positive");
        if (StartJitter < TimeSpan.Zero || ReconnectJitter < TimeSpan.Zero) throw new ArgumentException("jitter must not be negative");
        if (CheckInterval <= TimeSpan.Zero || DialTimeout <= TimeSpan.Zero) throw new ArgumentException("intervals must be positive");
    }
}
