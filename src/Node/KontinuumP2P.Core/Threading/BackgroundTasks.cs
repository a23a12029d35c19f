namespace KontinuumP2P.Core.Threading;

/// <summary>
/// The background work a component (host, DHT, node) owns: every task is started through here with a token cancelled at shutdown, is
/// forgotten when it ends, and is awaited by <see cref="StopAsync"/>. Nothing is fire-and-forget.
/// </summary>
public sealed class BackgroundTasks : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<int, Task> _running = [];
    private readonly Lock _lock = new();
    private readonly Action<Exception> _onError;
    private int _nextId;
    private bool _stopped;

    /// <summary>Creates the set; <paramref name="onError"/> receives failures of tasks started with <see cref="Run"/>.</summary>
    public BackgroundTasks(Action<Exception> onError) => _onError = onError;

    /// <summary>Cancelled when the owner stops.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Number of tasks still running.</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _running.Count;
        }
    }

    /// <summary>Starts <paramref name="work"/>; returns false (without running it) once stopping.</summary>
    public bool Run(Func<CancellationToken, Task> work)
    {
        int id;
        lock (_lock)
        {
            if (_stopped) return false;
            id = ++_nextId;
            // Placeholder first so a task that finishes synchronously still finds its slot to remove.
            _running[id] = Task.CompletedTask;
        }
        var task = RunCoreAsync(id, work);
        lock (_lock)
        {
            if (_running.ContainsKey(id)) _running[id] = task;
        }
        return true;
    }

    /// <summary>Starts <paramref name="work"/> and returns its result task; faults go to the caller, not the error sink.</summary>
    public Task<T> Start<T>(Func<CancellationToken, Task<T>> work)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = Run(async token =>
        {
            try
            {
                result.TrySetResult(await work(token).ConfigureAwait(false));
            }
            catch (OperationCanceledException e)
            {
                result.TrySetCanceled(e.CancellationToken);
            }
            catch (Exception e)
            {
                result.TrySetException(e);
            }
        });
        if (!started) result.TrySetException(new ObjectDisposedException("the owner is shutting down"));
        return result.Task;
    }

    /// <summary>Cancels every task and waits for all of them.</summary>
    public async Task StopAsync()
    {
        Task[] tasks;
        lock (_lock)
        {
            _stopped = true;
            tasks = [.. _running.Values];
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(tasks).ConfigureAwait(false);
        // Tasks started by tasks we just awaited finish under the same cancelled token.
        while (true)
        {
            lock (_lock) tasks = [.. _running.Values];
            if (tasks.Length == 0) break;
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task RunCoreAsync(int id, Func<CancellationToken, Task> work)
    {
        try
        {
            await Task.Yield();
            await work(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _onError(e);
        }
        finally
        {
            lock (_lock) _running.Remove(id);
        }
    }
}
