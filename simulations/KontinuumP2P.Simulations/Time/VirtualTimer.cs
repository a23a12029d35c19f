namespace KontinuumP2P.Simulations.Time;

/// <summary>
/// A timer of a <see cref="VirtualTimeProvider"/>. Each <see cref="Change"/> bumps a generation, so queue entries of
/// an earlier arming are recognised as stale and skipped instead of being searched for and removed.
/// </summary>
internal sealed class VirtualTimer : ITimer
{
    private readonly VirtualTimeProvider _time;
    // Dropped on Dispose: a disposed timer stays in the queue until its due time (lazy deletion), and what it would
    // call (e.g. the CancellationTokenSource of a request's timeout, with its registrations) must not live that long.
    private TimerCallback? _callback;
    private object? _state;
    private readonly Lock _lock = new();
    private long _generation;
    private bool _armed;
    private bool _disposed;
    private TimeSpan _period = Timeout.InfiniteTimeSpan;

    public VirtualTimer(VirtualTimeProvider time, TimerCallback callback, object? state)
    {
        _time = time;
        _callback = callback;
        _state = state;
    }

    public bool Change(TimeSpan dueTime, TimeSpan period)
    {
        lock (_lock)
        {
            if (_disposed) return false;
            _generation++;
            _period = period;
            _armed = dueTime != Timeout.InfiniteTimeSpan;
            if (_armed) _time.Arm(this, dueTime, _generation);
        }
        return true;
    }

    /// <summary>Whether the queue entry of <paramref name="generation"/> is still the live one.</summary>
    public bool IsArmed(long generation)
    {
        lock (_lock) return _armed && !_disposed && generation == _generation;
    }

    /// <summary>Runs the callback if <paramref name="generation"/> is still live; re-arms a periodic timer first.</summary>
    public void Fire(long generation)
    {
        TimerCallback callback;
        object? state;
        lock (_lock)
        {
            if (!_armed || _disposed || generation != _generation) return;
            callback = _callback!;
            state = _state;
            if (_period > TimeSpan.Zero && _period != Timeout.InfiniteTimeSpan)
            {
                _generation++;
                _time.Arm(this, _period, _generation);
            }
            else
            {
                _armed = false;
            }
        }
        callback(state);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _armed = false;
            _callback = null;
            _state = null;
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
