using KontinuumP2P.Mailbox.Storage;

namespace KontinuumP2P.Mailbox.Server;

/// <summary>Settings of a <see cref="MailboxServer"/>: its store (role, database, quotas, retention) and per-session limits.</summary>
public sealed record MailboxServerOptions
{
    /// <summary>The store: database path, role, retention and quotas.</summary>
    public required MailboxStoreOptions Store { get; init; }

    /// <summary>Sessions served at once; more are refused with TOO_MANY_SESSIONS.</summary>
    public int MaxSessions { get; init; } = 1024;

    /// <summary>Requests a session may have in progress (pipelined); the server stops reading beyond that.</summary>
    public int MaxInFlightPerSession { get; init; } = 64;

    /// <summary>Blobs in one pull page at most.</summary>
    public int MaxPullBlobs { get; init; } = 1024;

    /// <summary>Bytes in one pull page at most (a single larger blob is still sent alone).</summary>
    public int MaxPullBytes { get; init; } = 4 << 20;

    /// <summary>Pushes one device may make per minute (across its sessions), as a token bucket of that size.</summary>
    public int PushesPerMinute { get; init; } = 6000;

    /// <summary>Requests one session may make per second (burst of the same size).</summary>
    public int RequestsPerSecond { get; init; } = 2000;

    /// <summary>Devices whose push rate is tracked at once; idle ones are evicted first.</summary>
    public int MaxTrackedDevices { get; init; } = 100_000;

    /// <summary>How long a new stream may take to send Open.</summary>
    public TimeSpan OpenTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an opened session may stay without a request.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a subscribed session may stay without a request (it is waiting for notifications).</summary>
    public TimeSpan SubscribedIdleTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long a stop waits for sessions to finish their in-flight requests before resetting them.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Store);
        Store.Validate();
        Range(MaxSessions, 1, 1_000_000, nameof(MaxSessions));
        Range(MaxInFlightPerSession, 1, 4096, nameof(MaxInFlightPerSession));
        Range(MaxPullBlobs, 1, 100_000, nameof(MaxPullBlobs));
        Range(MaxPullBytes, 1, 64 << 20, nameof(MaxPullBytes));
        Range(PushesPerMinute, 1, 100_000_000, nameof(PushesPerMinute));
        Range(RequestsPerSecond, 1, 10_000_000, nameof(RequestsPerSecond));
        Range(MaxTrackedDevices, 1, 10_000_000, nameof(MaxTrackedDevices));
        Positive(OpenTimeout, nameof(OpenTimeout));
        Positive(IdleTimeout, nameof(IdleTimeout));
        Positive(SubscribedIdleTimeout, nameof(SubscribedIdleTimeout));
        Positive(ShutdownTimeout, nameof(ShutdownTimeout));
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero) throw new ArgumentException($"{name} must be positive (was {value})", name);
    }

    private static void Range(long value, long min, long max, string name)
    {
        if (value < min || value > max) throw new ArgumentException($"{name} must be within {min}..{max} (was {value})", name);
    }
}
