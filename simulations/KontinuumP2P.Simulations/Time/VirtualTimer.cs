namespace KontinuumP2P.Simulations.Time;

/// <summary>
/// A timer of a <see cref="VirtualTimeProvider"/>. It has at most one entry in the provider's timer heap, moved by
/// <see cref="Change"/> and removed when stopped or disposed. Each arming bumps a generation, so an arming taken from the
/// heap just before a <see cref="Change"/> does not fire.
/// </summary>
internal sealed class VirtualTimer : ITimer
{
    private readonly VirtualTimeProvider _time;
    // Dropped on Dispose: a taken arming may still reach Fire, and what the timer would call (e.g. the
    // CancellationTokenSource of a request's timeout, with its registrations) must not be kept alive by it.
    private TimerCallback? _callback;
    private object? _state;
    private readonly Lock _lock = new();
    private long _generation;
    private bool _armed;
    private bool _disposed;
    private TimeSpan _period = Timeout.InfiniteTimeSpan;

    /// <summary>When the armed entry is due, and its tie-break; the provider's lock guards the three heap fields.</summary>
    internal EventKey QueueKey;

    /// <summary>The generation of the armed entry.</summary>
    internal long QueuedGeneration;

    /// <summary>The position in the provider's timer heap, -1 when not armed there.</summary>
    internal int HeapIndex = -1;

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
            else _time.Disarm(this);
        }
        return true;
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
            _time.Disarm(this);
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
