using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Core.Threading;

/// <summary>What a loop does after an exception that is not its own cancellation.</summary>
public enum LoopFailurePolicy
{
    /// <summary>Report it, wait <see cref="BackgroundLoops.RestartDelay"/>, run the loop again.</summary>
    Restart,

    /// <summary>Report it and end the loop (for loops whose failure means their purpose is gone).</summary>
    Stop,
}

/// <summary>Arguments of <see cref="BackgroundLoops.LoopFailed"/>.</summary>
/// <param name="loop">The loop's name.</param>
/// <param name="exception">What it threw.</param>
public sealed class LoopFailedEventArgs(string loop, Exception exception) : EventArgs
{
    /// <summary>The loop's name.</summary>
    public string Loop { get; } = loop;

    /// <summary>What it threw.</summary>
    public Exception Exception { get; } = exception;
}

/// <summary>
/// The owner of a component's long-running loops: each is named, runs on a token cancelled at stop, survives or ends
/// per its policy, reports every failure through the logger and the <c>kontinuum.background.failures</c> counter
/// (tags <c>owner</c>, <c>loop</c>), and is awaited by <see cref="StopAsync"/>. Periodic work
/// (<see cref="StartPeriodic"/>) survives any failure of one round: the next round runs at the next tick.
/// </summary>
public sealed partial class BackgroundLoops : IAsyncDisposable
{
    /// <summary>Name of the meter of the failure counter.</summary>
    public const string MeterName = "KontinuumP2P.Background";

    private readonly string _owner;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _failures;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<string, Task> _loops = [];
    private readonly Lock _lock = new();
    private bool _stopped;

    /// <summary>Creates the owner of <paramref name="owner"/>'s loops.</summary>
    /// <param name="owner">The component (e.g. <c>node</c>, <c>dht</c>), a metric tag.</param>
    /// <param name="timeProvider">The clock of periodic loops and restart delays.</param>
    /// <param name="logger">Where failures are reported; none when null.</param>
    /// <param name="meterFactory">Metrics; a private meter when null.</param>
    public BackgroundLoops(string owner, TimeProvider timeProvider, ILogger? logger = null, IMeterFactory? meterFactory = null)
    {
        _owner = owner;
        _time = timeProvider;
        _logger = logger ?? NullLogger.Instance;
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _failures = _meter.CreateCounter<long>("kontinuum.background.failures", "{failure}", "Exceptions thrown by background loops");
    }

    /// <summary>How long a <see cref="LoopFailurePolicy.Restart"/> loop waits before running again.</summary>
    public TimeSpan RestartDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Raised (on the loop's thread) for each failure, after it was logged and counted.</summary>
    public event EventHandler<LoopFailedEventArgs>? LoopFailed;

    /// <summary>Cancelled when the owner stops.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Names of the loops still running.</summary>
    public IReadOnlyList<string> Running
    {
        get
        {
            lock (_lock) return [.. _loops.Where(l => !l.Value.IsCompleted).Select(l => l.Key)];
        }
    }

    /// <summary>Starts <paramref name="loop"/> under <paramref name="name"/> (unique per owner); false once stopping.</summary>
    /// <exception cref="ArgumentException">A loop of that name runs already.</exception>
    public bool Start(string name, Func<CancellationToken, Task> loop, LoopFailurePolicy policy = LoopFailurePolicy.Restart)
    {
        ArgumentNullException.ThrowIfNull(loop);
        var started = new TaskCompletionSource();
        lock (_lock)
        {
            if (_stopped) return false;
            if (_loops.TryGetValue(name, out var existing) && !existing.IsCompleted)
                throw new ArgumentException($"a loop named '{name}' is running already", nameof(name));
            // Reserve the name; the loop runs outside the lock (up to its first await, as a plain async call would).
            _loops[name] = started.Task;
        }
        var task = RunAsync(name, loop, policy);
        lock (_lock) _loops[name] = task;
        started.SetResult();
        return true;
    }

    /// <summary>
    /// Runs <paramref name="round"/> every <paramref name="interval"/> (first after one interval). A round that throws
    /// is reported; the next one runs at the next tick.
    /// </summary>
    public bool StartPeriodic(string name, TimeSpan interval, Func<CancellationToken, Task> round)
    {
        ArgumentNullException.ThrowIfNull(round);
        return Start(name, async token =>
        {
            using var timer = new PeriodicTimer(interval, _time);
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
                try
                {
                    await round(token).ConfigureAwait(false);
                }
                catch (Exception e) when (!(e is OperationCanceledException && token.IsCancellationRequested))
                {
                    Report(name, e);
                }
            }
        }, LoopFailurePolicy.Stop);
    }

    /// <summary>Cancels every loop and waits until all have ended.</summary>
    public async Task StopAsync()
    {
        Task[] loops;
        lock (_lock)
        {
            _stopped = true;
            loops = [.. _loops.Values];
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        while (true)
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
            // A loop being started while we stopped was seen as its placeholder: await what replaced it.
            lock (_lock) loops = [.. _loops.Values.Where(t => !t.IsCompleted)];
            if (loops.Length == 0) return;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
        if (_ownsMeter) _meter.Dispose();
    }

    private async Task RunAsync(string name, Func<CancellationToken, Task> loop, LoopFailurePolicy policy)
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await loop(token).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Report(name, e);
                if (policy == LoopFailurePolicy.Stop) return;
            }
            try
            {
                await Task.Delay(RestartDelay, _time, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            LogRestarted(_logger, _owner, name);
        }
    }

    private void Report(string name, Exception exception)
    {
        LogFailed(_logger, exception, _owner, name);
        _failures.Add(1, new KeyValuePair<string, object?>("owner", _owner), new KeyValuePair<string, object?>("loop", name));
        try
        {
            LoopFailed?.Invoke(this, new LoopFailedEventArgs(name, exception));
        }
        catch (Exception e)
        {
            // A listener's bug must not kill the loop it listens to.
            LogFailed(_logger, e, _owner, name + " (failure listener)");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Owner} background loop {Loop} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string owner, string loop);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Owner} background loop {Loop} restarted")]
    private static partial void LogRestarted(ILogger logger, string owner, string loop);
}
