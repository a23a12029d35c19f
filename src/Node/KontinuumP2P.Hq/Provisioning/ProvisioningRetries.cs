using KontinuumP2P.Hq.Registry;

namespace KontinuumP2P.Hq.Provisioning;

/// <summary>How HQ retries a replacement whose node failed to start.</summary>
public sealed record ProvisioningRetryOptions
{
    /// <summary>Spares tried for one slot before HQ gives up on it (until an operator acts or HQ restarts).</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Wait after the first failure; it doubles after each further failure.</summary>
    public TimeSpan FirstDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait between attempts.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value out of range.</exception>
    public void Validate()
    {
        if (MaxAttempts is < 1 or > 100) throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "must be 1..100");
        if (FirstDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(FirstDelay), FirstDelay, "must not be negative");
        if (MaxDelay < FirstDelay) throw new ArgumentOutOfRangeException(nameof(MaxDelay), MaxDelay, "must be at least FirstDelay");
    }
}

/// <summary>What HQ does after a failed provisioning.</summary>
/// <param name="Attempt">Failed attempts for the slot so far.</param>
/// <param name="MaxAttempts">Attempts allowed.</param>
/// <param name="RetryAt">When another spare is tried; null when HQ gave up.</param>
public sealed record ProvisionFailure(int Attempt, int MaxAttempts, DateTimeOffset? RetryAt);

/// <summary>
/// Per-slot provisioning attempts (the caller passes the time and holds the lock). One entry per slot being
/// replaced, removed when a start succeeds, so its size is bounded by the fleet's slots. With a store, every change
/// is written through to HQ's database and the entries are loaded from it, so a restart keeps the backoff.
/// </summary>
internal sealed class ProvisioningRetries
{
    private readonly Dictionary<string, (int Attempts, DateTimeOffset Next, bool Abandoned)> _slots = new(StringComparer.Ordinal);
    private readonly ProvisionAttemptStore? _store;

    public ProvisioningRetries(ProvisionAttemptStore? store = null)
    {
        _store = store;
        if (store is null) return;
        foreach (var a in store.Load()) _slots[a.Slot] = (a.Attempts, a.NextAt, a.Abandoned);
    }

    public int Count => _slots.Count;

    /// <summary>Whether a replacement for the slot may be tried now.</summary>
    public bool Ready(string slot, DateTimeOffset now) => !_slots.TryGetValue(slot, out var s) || (!s.Abandoned && now >= s.Next);

    /// <summary>A start failed: the next attempt's time, or none once <see cref="ProvisioningRetryOptions.MaxAttempts"/> failed.</summary>
    public ProvisionFailure Failed(string slot, DateTimeOffset now, ProvisioningRetryOptions options)
    {
        var attempts = (_slots.TryGetValue(slot, out var s) ? s.Attempts : 0) + 1;
        if (attempts >= options.MaxAttempts)
        {
            Set(slot, (attempts, DateTimeOffset.MaxValue, true));
            return new ProvisionFailure(attempts, options.MaxAttempts, null);
        }
        var delay = TimeSpan.FromTicks((long)Math.Min(options.MaxDelay.Ticks, options.FirstDelay.Ticks * Math.Pow(2, attempts - 1)));
        Set(slot, (attempts, now + delay, false));
        return new ProvisionFailure(attempts, options.MaxAttempts, now + delay);
    }

    /// <summary>A start succeeded (or an operator replaced the slot): forget its failures.</summary>
    public void Succeeded(string slot)
    {
        if (_slots.Remove(slot)) _store?.Delete(slot);
    }

    private void Set(string slot, (int Attempts, DateTimeOffset Next, bool Abandoned) entry)
    {
        // Persist first: a failed write leaves memory as it was.
        _store?.Save(new ProvisionAttempt(slot, entry.Attempts, entry.Next, entry.Abandoned));
        _slots[slot] = entry;
    }
}
