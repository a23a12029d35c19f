namespace KontinuumP2P.Testing;

/// <summary>
/// A (usually fake) clock seen through a counter of the timers created with one due time: a loop that
/// re-arms its tick timer (<c>Task.Delay(tick, time)</c>) after its work says, without sleeping, that the work is done;
/// and a timer armed with exactly the watched due time shows the interval is the configured one.
/// </summary>
public sealed class TimerWatch(TimeProvider inner, TimeSpan watchedDueTime) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private int _armed;

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    /// <summary>Timers created so far with the watched due time.</summary>
    public int Armed
    {
        get
        {
            lock (_gate) return _armed;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = inner.CreateTimer(callback, state, dueTime, period);
        if (dueTime == watchedDueTime)
        {
            lock (_gate)
            {
                _armed++;
                foreach (var waiter in _waiters.Where(w => w.Count <= _armed)) waiter.Reached.TrySetResult();
                _waiters.RemoveAll(w => w.Count <= _armed);
            }
        }
        return timer;
    }

    /// <summary>Completes once <paramref name="count"/> watched timers have been created in total.</summary>
    public Task WaitForArmedAsync(int count, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_armed >= count) return Task.CompletedTask;
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, reached));
            return reached.Task.WaitAsync(cancellationToken);
        }
    }
}
