namespace KontinuumP2P.Simulations.Time;

/// <summary>
/// A clock that only moves when the <see cref="SimulationDriver"/> runs the next scheduled event. Events run in the
/// order of their <see cref="EventKey"/> (due time, then a deterministic tie-break), so the order never depends on
/// thread timing: scheduled actions from one queue, armed timers from a heap that drops a timer's entry when it is
/// re-armed or disarmed, the earlier of the two first. Thread-safe: nodes create timers from any thread.
/// </summary>
public sealed class VirtualTimeProvider : TimeProvider
{
    /// <summary>The start of every simulation unless told otherwise (fixed, so certificates and CSVs are reproducible).</summary>
    public static readonly DateTimeOffset DefaultEpoch = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly Lock _lock = new();
    private readonly PriorityQueue<ScheduledEvent, EventKey> _queue = new();
    private readonly TimerHeap _timers = new();
    private readonly DateTimeOffset _epoch;
    private long _nowTicks;
    private long _timerSequence;
    private long _actionSequence;

    /// <summary>Creates a clock standing at <paramref name="epoch"/> (default <see cref="DefaultEpoch"/>).</summary>
    public VirtualTimeProvider(DateTimeOffset? epoch = null) => _epoch = epoch ?? DefaultEpoch;

    /// <summary>Virtual time elapsed since the epoch.</summary>
    public TimeSpan Elapsed => TimeSpan.FromTicks(Volatile.Read(ref _nowTicks));

    /// <summary>Events waiting: scheduled actions and armed timers.</summary>
    public int PendingEvents
    {
        get
        {
            lock (_lock) return _queue.Count + _timers.Count;
        }
    }

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => _epoch + Elapsed;

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp() => Volatile.Read(ref _nowTicks);

    /// <inheritdoc />
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new VirtualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>
    /// Schedules <paramref name="action"/> after <paramref name="delay"/>. Events due at the same instant run in the
    /// order of (<paramref name="lane"/>, <paramref name="a"/>, <paramref name="b"/>, <paramref name="sequence"/>): callers
    /// pass keys that do not depend on thread timing (e.g. sender, receiver, per-pair message number).
    /// </summary>
    public void Schedule(TimeSpan delay, EventLane lane, long a, long b, long sequence, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Enqueue(delay, lane, a, b, sequence, new ScheduledEvent(action, null, 0));
    }

    /// <summary>
    /// Schedules <paramref name="action"/> with <paramref name="state"/> (a static delegate: no closure per event) in the
    /// same order as <see cref="Schedule(TimeSpan, EventLane, long, long, long, Action)"/>.
    /// </summary>
    internal void Schedule(TimeSpan delay, EventLane lane, long a, long b, long sequence, Action<object?> action, object? state)
    {
        ArgumentNullException.ThrowIfNull(action);
        Enqueue(delay, lane, a, b, sequence, new ScheduledEvent(action, state, 0));
    }

    private void Enqueue(TimeSpan delay, EventLane lane, long a, long b, long sequence, ScheduledEvent scheduled)
    {
        if (delay < TimeSpan.Zero) delay = TimeSpan.Zero;
        lock (_lock)
        {
            var key = new EventKey(_nowTicks + delay.Ticks, lane, a, b, sequence);
            _queue.Enqueue(scheduled, key);
        }
    }

    /// <summary>Schedules a scenario step; steps at the same instant run in the order they were scheduled.</summary>
    public void Schedule(TimeSpan delay, Action action)
    {
        long sequence;
        lock (_lock) sequence = ++_actionSequence;
        Schedule(delay, EventLane.Scenario, 0, 0, sequence, action);
    }

    /// <summary>The due time of the next live event, or null when none is left.</summary>
    public TimeSpan? NextDue()
    {
        lock (_lock) return TryPeekKey(out var key, out _) ? TimeSpan.FromTicks(key.DueTicks) : null;
    }

    /// <summary>
    /// Advances the clock to the next event due no later than <paramref name="limit"/> and runs it on the calling
    /// thread. False when there is none.
    /// </summary>
    public bool RunNext(TimeSpan limit)
    {
        var next = TakeNext(limit);
        next?.Invoke();
        return next is not null;
    }

    /// <summary>
    /// Advances the clock to the next event due no later than <paramref name="limit"/>, removes it and returns what runs
    /// it (the caller picks the thread); null when there is none.
    /// </summary>
    public Action? TakeNext(TimeSpan limit) => TryTakeNext(limit, out var next) ? next.Run : null;

    /// <summary>Like <see cref="TakeNext"/>, without a delegate per event: the caller runs <see cref="ScheduledEvent.Run"/>.</summary>
    internal bool TryTakeNext(TimeSpan limit, out ScheduledEvent next)
    {
        lock (_lock)
        {
            next = default;
            if (!TryPeekKey(out var key, out var timer) || key.DueTicks > limit.Ticks) return false;
            if (timer is not null)
            {
                _timers.Remove(timer);
                next = new ScheduledEvent(timer, null, timer.QueuedGeneration);
            }
            else
            {
                next = _queue.Dequeue();
            }
            _nowTicks = Math.Max(_nowTicks, key.DueTicks);
            return true;
        }
    }

    /// <summary>Moves the clock to <paramref name="time"/> when no event is due before it (idle stretches).</summary>
    public void AdvanceTo(TimeSpan time)
    {
        lock (_lock)
        {
            if (TryPeekKey(out var key, out _) && key.DueTicks < time.Ticks)
                throw new InvalidOperationException("events are due before the requested time: run them first");
            _nowTicks = Math.Max(_nowTicks, time.Ticks);
        }
    }

    /// <summary>
    /// Arms <paramref name="timer"/> for <paramref name="due"/> from now (replacing an earlier arming): its key takes the
    /// next timer sequence number, as a new queue entry did, so the order of events is what it was with one queue.
    /// </summary>
    internal void Arm(VirtualTimer timer, TimeSpan due, long generation)
    {
        lock (_lock)
        {
            timer.QueueKey = new EventKey(_nowTicks + Math.Max(0, due.Ticks), EventLane.Timer, 0, 0, ++_timerSequence);
            timer.QueuedGeneration = generation;
            _timers.Set(timer);
        }
    }

    /// <summary>Takes <paramref name="timer"/>'s arming out of the heap (stopped, disposed); nothing if it has none.</summary>
    internal void Disarm(VirtualTimer timer)
    {
        lock (_lock) _timers.Remove(timer);
    }

    /// <summary>The key of the next event of either kind, and the timer when it is one (else the queue's head); under the lock.</summary>
    private bool TryPeekKey(out EventKey key, out VirtualTimer? timer)
    {
        var hasQueued = _queue.TryPeek(out _, out key);
        timer = _timers.Peek();
        if (timer is not null && (!hasQueued || timer.QueueKey < key))
        {
            key = timer.QueueKey;
            return true;
        }
        timer = null;
        return hasQueued;
    }

    /// <summary>
    /// One queued event: an <see cref="Action"/>, an <see cref="Action{T}"/> with its state, or a timer's arming
    /// (<see cref="VirtualTimer"/> with its generation). One reference field for all three keeps the queue's entries small.
    /// </summary>
    internal readonly record struct ScheduledEvent(object Callback, object? State, long Generation)
    {
        /// <summary>Runs the event on the calling thread.</summary>
        public void Run()
        {
            switch (Callback)
            {
                case VirtualTimer timer:
                    timer.Fire(Generation);
                    break;
                case Action<object?> withState:
                    withState(State);
                    break;
                default:
                    ((Action)Callback)();
                    break;
            }
        }
    }
}

/// <summary>Which kind of event; at the same instant, lower lanes run first.</summary>
public enum EventLane
{
    /// <summary>Scenario steps (joins, lookups, faults).</summary>
    Scenario = 0,
    /// <summary>Message deliveries of the simulated network.</summary>
    Network = 1,
    /// <summary>Timers created by node code (timeouts, maintenance).</summary>
    Timer = 2,
}

/// <summary>The position of an event in the queue.</summary>
/// <param name="DueTicks">When it is due (ticks since the epoch).</param>
/// <param name="Lane">Its kind.</param>
/// <param name="A">First tie-break (e.g. sender index).</param>
/// <param name="B">Second tie-break (e.g. receiver index).</param>
/// <param name="Sequence">Last tie-break (e.g. per-pair message number).</param>
public readonly record struct EventKey(long DueTicks, EventLane Lane, long A, long B, long Sequence) : IComparable<EventKey>
{
    /// <inheritdoc />
    public int CompareTo(EventKey other)
    {
        var c = DueTicks.CompareTo(other.DueTicks);
        if (c == 0) c = ((int)Lane).CompareTo((int)other.Lane); // Enum.CompareTo(object) would box: one allocation per comparison
        if (c == 0) c = A.CompareTo(other.A);
        if (c == 0) c = B.CompareTo(other.B);
        return c != 0 ? c : Sequence.CompareTo(other.Sequence);
    }

    /// <summary>Orders by due time, then the tie-breaks.</summary>
    public static bool operator <(EventKey left, EventKey right) => left.CompareTo(right) < 0;

    /// <summary>Orders by due time, then the tie-breaks.</summary>
    public static bool operator >(EventKey left, EventKey right) => left.CompareTo(right) > 0;

    /// <summary>Orders by due time, then the tie-breaks.</summary>
    public static bool operator <=(EventKey left, EventKey right) => left.CompareTo(right) <= 0;

    /// <summary>Orders by due time, then the tie-breaks.</summary>
    public static bool operator >=(EventKey left, EventKey right) => left.CompareTo(right) >= 0;
}
