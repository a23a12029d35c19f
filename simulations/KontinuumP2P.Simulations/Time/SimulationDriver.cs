using System.Diagnostics;

namespace KontinuumP2P.Simulations.Time;

/// <summary>
/// Runs a simulation deterministically although node code is ordinary async code: on a thread of its own, it takes the
/// single next event of the <see cref="VirtualTimeProvider"/>, hands it to the thread pool, waits until the pool is
/// quiescent (nothing queued, no worker busy), and repeats. Work triggered by one event therefore finishes before the
/// next event starts.
/// </summary>
/// <remarks>
/// <para>
/// Full determinism needs a thread pool of exactly one worker (the simulation executable sets
/// <c>System.Threading.ThreadPool.MinThreads</c>/<c>MaxThreads</c> to 1 in its runtime configuration): then every
/// continuation of node code runs on that one thread, one after the other, in an order fixed by the events alone.
/// With a larger pool (e.g. inside a test host) events still run one at a time, but continuations that one event
/// spreads over several workers may interleave differently from run to run; <see cref="IsSerialized"/> tells which.
/// </para>
/// <para>
/// Nothing else in the process may keep pool threads busy while a simulation runs (a blocked pool thread would never
/// let the pool look quiescent); the driver gives up after <see cref="QuiescenceTimeout"/> of wall time with an error.
/// </para>
/// </remarks>
public sealed class SimulationDriver
{
    private readonly VirtualTimeProvider _time;
    private long _events;
    private long _quiescenceTicks;
    private Exception? _eventFailure;

    /// <summary>Creates a driver over <paramref name="time"/>.</summary>
    public SimulationDriver(VirtualTimeProvider time) => _time = time;

    /// <summary>Whether the pool has a single worker, so runs are reproducible bit for bit.</summary>
    public static bool IsSerialized
    {
        get
        {
            ThreadPool.GetMaxThreads(out var workers, out _);
            return workers == 1;
        }
    }

    /// <summary>Longest wall time to wait for the pool to become idle between two events.</summary>
    public TimeSpan QuiescenceTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Events run so far.</summary>
    public long EventsRun => Interlocked.Read(ref _events);

    /// <summary>Whether the last run executed as a work item of a one-worker pool (rather than from the driver thread).</summary>
    public bool RanOnPoolWorker { get; private set; }

    /// <summary>Wall time the driver thread spent waiting for quiescence so far (zero when it ran on the pool worker).</summary>
    public TimeSpan QuiescenceWaitTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _quiescenceTicks));

    /// <summary>Raised on the driver thread after each event (progress reporting); keep it cheap.</summary>
    public event Action<TimeSpan>? EventRan;

    /// <summary>
    /// Starts <paramref name="script"/> at the current virtual time and runs events until its task completes. Stops with
    /// <see cref="SimulationStalledException"/> when no event is left before the script finished, when virtual time
    /// would pass <paramref name="virtualLimit"/>, or after <paramref name="maxEvents"/> events.
    /// </summary>
    public Task RunAsync(Func<Task> script, TimeSpan virtualLimit, long maxEvents, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(script);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (IsSerialized)
        {
            RanOnPoolWorker = true;
            new PoolLoop(this, script, virtualLimit, maxEvents, done, cancellationToken).Start();
            return done.Task;
        }
        // A dedicated thread: the driver itself must not count as a busy pool worker.
        var thread = new Thread(() =>
        {
            try
            {
                Loop(script, virtualLimit, maxEvents, cancellationToken);
                done.TrySetResult();
            }
            catch (OperationCanceledException e)
            {
                done.TrySetCanceled(e.CancellationToken);
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "simulation-driver",
        };
        thread.Start();
        return done.Task;
    }

    private void Loop(Func<Task> script, TimeSpan virtualLimit, long maxEvents, CancellationToken cancellationToken)
    {
        Task? running = null;
        _time.Schedule(TimeSpan.Zero, () => running = script());
        while (true)
        {
            WaitForQuiescence();
            if (_eventFailure is { } failure) throw new SimulationStalledException($"an event failed at {_time.Elapsed}: {failure.Message}", failure);
            cancellationToken.ThrowIfCancellationRequested();
            if (running is { IsCompleted: true })
            {
                running.GetAwaiter().GetResult(); // rethrows the script's failure
                return;
            }
            if (_events >= maxEvents) throw new SimulationStalledException($"the event budget ({maxEvents}) ran out at {_time.Elapsed}");
            var next = _time.TakeNext(virtualLimit) ?? throw new SimulationStalledException(_time.NextDue() is { } due
                ? $"virtual time would pass the limit {virtualLimit} (next event at {due}) before the scenario finished"
                : $"no event is left at {_time.Elapsed} but the scenario has not finished");
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Driver.Execute(state.Event), (Driver: this, Event: next), preferLocal: false);
            Interlocked.Increment(ref _events);
            EventRan?.Invoke(_time.Elapsed);
        }
    }

    /// <summary>
    /// The loop of a one-worker pool, run as a work item on that worker: whenever other work is queued it goes to the
    /// back of the queue (so everything an event set off runs first), otherwise it runs the next event inline and
    /// queues itself again. No thread hand-off per event, and the same order as the quiescence wait.
    /// </summary>
    private sealed class PoolLoop(SimulationDriver driver, Func<Task> script, TimeSpan virtualLimit, long maxEvents, TaskCompletionSource done,
        CancellationToken cancellationToken) : IThreadPoolWorkItem
    {
        private Task? _running;

        public void Start()
        {
            driver._time.Schedule(TimeSpan.Zero, () => _running = script());
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        public void Execute()
        {
            try
            {
                if (ThreadPool.PendingWorkItemCount > 0)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                    return;
                }
                if (driver._eventFailure is { } failure)
                    throw new SimulationStalledException($"an event failed at {driver._time.Elapsed}: {failure.Message}", failure);
                cancellationToken.ThrowIfCancellationRequested();
                if (_running is { IsCompleted: true })
                {
                    _running.GetAwaiter().GetResult();
                    done.TrySetResult();
                    return;
                }
                if (driver._events >= maxEvents) throw new SimulationStalledException($"the event budget ({maxEvents}) ran out at {driver._time.Elapsed}");
                if (!driver._time.TryTakeNext(virtualLimit, out var next))
                {
                    throw new SimulationStalledException(driver._time.NextDue() is { } due
                        ? $"virtual time would pass the limit {virtualLimit} (next event at {due}) before the scenario finished"
                        : $"no event is left at {driver._time.Elapsed} but the scenario has not finished");
                }
                driver.Execute(next);
                Interlocked.Increment(ref driver._events);
                driver.EventRan?.Invoke(driver._time.Elapsed);
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
            catch (OperationCanceledException e)
            {
                done.TrySetCanceled(e.CancellationToken);
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        }
    }

    private void Execute(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _eventFailure, e, null);
        }
    }

    private void Execute(in VirtualTimeProvider.ScheduledEvent scheduled)
    {
        try
        {
            scheduled.Run();
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _eventFailure, e, null);
        }
    }

    /// <summary>
    /// Spins (never sleeps a whole millisecond) until the pool has no queued work and no more busy workers than the
    /// host keeps busy on its own. A host (e.g. a test runner) may hold workers for long stretches: when nothing is
    /// queued and the busy count has not dropped for a while, those workers are taken as the host's. This
    /// approximation is why only the one-worker mode promises reproducible runs.
    /// </summary>
    private void WaitForQuiescence()
    {
        var started = Stopwatch.GetTimestamp();
        var spinner = default(SpinWait);
        while (!IsQuiescent(_hostBusyWorkers))
        {
            spinner.SpinOnce(sleep1Threshold: -1);
            if (spinner.Count % 256 != 0) continue;
            var waited = Stopwatch.GetElapsedTime(started);
            if (waited > HostWorkerGrace && ThreadPool.PendingWorkItemCount == 0) _hostBusyWorkers = BusyWorkers();
            if (waited > QuiescenceTimeout)
                throw new SimulationStalledException($"the thread pool stayed busy for {QuiescenceTimeout}: something outside the simulation holds pool threads");
        }
        Interlocked.Add(ref _quiescenceTicks, Stopwatch.GetTimestamp() - started);
    }

    /// <summary>How long a busy worker with nothing queued may stay busy before it counts as the host's.</summary>
    private static readonly TimeSpan HostWorkerGrace = TimeSpan.FromMilliseconds(200);

    private int _hostBusyWorkers;

    /// <summary>True when the pool has nothing queued and at most <paramref name="hostBusy"/> workers are busy.</summary>
    internal static bool IsQuiescent(int hostBusy = 0) => ThreadPool.PendingWorkItemCount == 0 && BusyWorkers() <= hostBusy;

    private static int BusyWorkers()
    {
        ThreadPool.GetAvailableThreads(out var available, out _);
        ThreadPool.GetMaxThreads(out var max, out _);
        return max - available;
    }
}

/// <summary>A simulation could not go on (no events left, limits reached, an event failed, or the pool never became idle).</summary>
public sealed class SimulationStalledException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SimulationStalledException() : base("the simulation stalled") { }

    /// <summary>Creates the exception with a message.</summary>
    public SimulationStalledException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public SimulationStalledException(string message, Exception inner) : base(message, inner) { }
}
