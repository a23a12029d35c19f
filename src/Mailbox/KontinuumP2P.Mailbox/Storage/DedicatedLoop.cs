using System.Collections.Concurrent;

namespace KontinuumP2P.Mailbox.Storage;

/// <summary>
/// Runs an async loop on a thread of its own. Every continuation of the loop's own awaits (those that keep the
/// captured context, i.e. without <c>ConfigureAwait(false)</c>) is posted back to that thread, so the loop's blocking
/// calls (SQLite commits, fsyncs, checkpoints) never hold a thread-pool thread: on two cores the pool has two threads,
/// and a commit plus an fsync on them left socket continuations queued for milliseconds.
/// </summary>
internal static class DedicatedLoop
{
    /// <summary>Starts <paramref name="loop"/> on a new background thread named <paramref name="name"/>; the task ends with the loop.</summary>
    public static Task RunAsync(string name, Func<Task> loop)
    {
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => Pump(loop, finished)) { IsBackground = true, Name = name };
        thread.Start();
        return finished.Task;
    }

    private static void Pump(Func<Task> loop, TaskCompletionSource finished)
    {
        using var context = new LoopContext();
        SynchronizationContext.SetSynchronizationContext(context);
        Task task;
        try
        {
            task = loop();
        }
        catch (Exception e)
        {
            task = Task.FromException(e);
        }
        // Ends the pump once the loop's task is done; continuations posted before that still run.
        task.ContinueWith(static (_, state) => ((LoopContext)state!).Complete(), context, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        context.Run();
        SynchronizationContext.SetSynchronizationContext(null);
        if (task.IsCanceled) finished.TrySetCanceled();
        else if (task.Exception is { } failure) finished.TrySetException(failure.InnerExceptions);
        else finished.TrySetResult();
    }

    /// <summary>A single-threaded context: posted callbacks run in order on the pumping thread.</summary>
    private sealed class LoopContext : SynchronizationContext, IDisposable
    {
        private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = [];

        public override void Post(SendOrPostCallback d, object? state)
        {
            try
            {
                _queue.Add((d, state));
            }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
            {
                // The loop already ended: a late callback runs on the pool rather than being lost.
                ThreadPool.QueueUserWorkItem(static s => s.Callback(s.State), (Callback: d, State: state), preferLocal: false);
            }
        }

        public override void Send(SendOrPostCallback d, object? state) =>
            throw new NotSupportedException("a dedicated loop's context takes posted callbacks only");

        public override SynchronizationContext CreateCopy() => this;

        public void Complete() => _queue.CompleteAdding();

        public void Run()
        {
            foreach (var (callback, state) in _queue.GetConsumingEnumerable()) callback(state);
        }

        public void Dispose() => _queue.Dispose();
    }
}
