using System.Diagnostics;
using System.Security.Cryptography;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// Open-loop push load for the mailbox bench: push i is due at start + i / rate, sent round-robin over the sessions
/// whatever earlier pushes are doing, and its latency runs from that due time (not from when it was actually sent), so
/// a stall delays every push due during it and shows in the tail instead of hiding (coordinated omission).
/// </summary>
internal static class MailboxOpenLoop
{
    /// <summary>What one open-loop run measured.</summary>
    public sealed record Result(int Pushes, double Rate, double AchievedRate, double[] SortedLatenciesMs, double MaxSendLagMs, TimeSpan Cpu,
        long MaxPoolQueue, int MaxPoolThreads, long StartTimestamp, string WorstWindows);

    public static Task<Result> RunAsync(IReadOnlyList<MailboxSession> sessions, double rate, TimeSpan duration, byte[] template,
        Func<TimeSpan> cpuTime, CancellationToken cancellationToken) =>
        RunAsync((i, blob, id) => sessions[i % sessions.Count].PushAsync(blob, id, 0, cancellationToken), rate, duration, template, cpuTime, cancellationToken);

    /// <summary>As above with any push: <paramref name="push"/> gets the push's index, its blob and id.</summary>
    public static async Task<Result> RunAsync(Func<int, byte[], byte[], Task<MailboxPushResult>> push, double rate, TimeSpan duration, byte[] template,
        Func<TimeSpan> cpuTime, CancellationToken cancellationToken)
    {
        var count = (int)Math.Max(1, rate * duration.TotalSeconds);
        var latencies = new double[count];
        // Completion is counted, not kept: an array of every push's task held ~300 B per push to the end of the run,
        // which the client's collector promoted through gen1 into gen2 (3 gen2 collections and 145 ms of pauses in a
        // 15 s run), and those pauses stalled the dispatcher and every receive in the client: the load generator's own
        // bookkeeping showed up as ack latency.
        var tracker = new CompletionTracker(count);
        var ticksPerPush = Stopwatch.Frequency / rate;
        double maxLagMs = 0;
        // Thread-pool queue length and thread count, sampled by the dispatcher each round: a long queue while the
        // process is not busy means work waits for a pool thread (blocking calls on pool threads).
        long maxQueue = 0;
        var maxThreads = 0;
        var cpu = cpuTime();
        var start = Stopwatch.GetTimestamp();
        // A dedicated thread sends every push that is due, then sleeps about a millisecond: pushes leave in small bursts,
        // each measured from its own due time, so the dispatcher's lateness counts against us, never for us.
        var dispatcher = new Thread(() =>
        {
            var next = 0;
            while (next < count && !cancellationToken.IsCancellationRequested)
            {
                var now = Stopwatch.GetTimestamp();
                while (next < count && start + (long)(next * ticksPerPush) <= now)
                {
                    var due = start + (long)(next * ticksPerPush);
                    maxLagMs = Math.Max(maxLagMs, Stopwatch.GetElapsedTime(due, now).TotalMilliseconds);
                    // Each blob is made when it is due, as a device would: 50,000 blobs made up front were ~55 MB the
                    // process held through the run, and promoting them cost the client process gen1/gen2 pauses.
                    var blob = (byte[])template.Clone();
                    RandomNumberGenerator.Fill(blob.AsSpan(0, 16));
                    var id = KontinuumP2P.Certs.Hashing.Blake3.Hash(blob);
                    tracker.Track(push(next, blob, id), due, latencies, next);
                    next++;
                }
                maxQueue = Math.Max(maxQueue, ThreadPool.PendingWorkItemCount);
                maxThreads = Math.Max(maxThreads, ThreadPool.ThreadCount);
                if (next < count) Thread.Sleep(1);
            }
        }) { IsBackground = true, Name = "mailbox-open-loop" };
        dispatcher.Start();
        await Task.Run(dispatcher.Join, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        await tracker.AllDone.ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(start);
        cpu = cpuTime() - cpu;
        var worst = WorstWindows(latencies, rate);
        Array.Sort(latencies);
        return new Result(count, rate, count / elapsed.TotalSeconds, latencies, maxLagMs, cpu, maxQueue, maxThreads, start, worst);
    }

    /// <summary>
    /// The 8 windows of 100 ms (by due time) with the most pushes over 10 ms, as "offset ms:max ms:pushes over 10 ms"
    /// separated by spaces: the offsets, added to the start timestamp, line up with the server's stall timeline.
    /// </summary>
    private static string WorstWindows(double[] latencies, double rate)
    {
        var perWindow = Math.Max(1, (int)(rate / 10));
        var windows = new List<(int Offset, double Max, int Over)>();
        for (var first = 0; first < latencies.Length; first += perWindow)
        {
            var slice = latencies.AsSpan(first, Math.Min(perWindow, latencies.Length - first));
            var over = 0;
            var max = 0.0;
            foreach (var latency in slice)
            {
                if (latency > 10) over++;
                max = Math.Max(max, latency);
            }
            if (over > 0) windows.Add((first / perWindow * 100, max, over));
        }
        return string.Join(" ", windows.OrderByDescending(w => w.Over).Take(8).Select(w => $"{w.Offset}:{w.Max:0}:{w.Over}"));
    }

    /// <summary>Runs the open loop and prints and records its figures (latency from the due time, CPU, GC, thread pool, the target).</summary>
    public static async Task RunAndReportAsync(List<MailboxSession> clients, long openRate, long openSeconds, byte[] blob, Dictionary<string, object> results,
        CancellationToken cancellationToken)
    {
        var gcPause = GC.GetTotalPauseDuration();
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        int[] gcCounts = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
        var open = await RunAsync(clients, openRate, TimeSpan.FromSeconds(openSeconds), blob, MailboxBench.CpuTime, cancellationToken);
        gcPause = GC.GetTotalPauseDuration() - gcPause;
        allocated = GC.GetTotalAllocatedBytes(precise: false) - allocated;
        results["openLoopAllocatedBytesPerPush"] = allocated / open.Pushes;
        var gcs = $"gen0/1/2 {GC.CollectionCount(0) - gcCounts[0]}/{GC.CollectionCount(1) - gcCounts[1]}/{GC.CollectionCount(2) - gcCounts[2]}";
        results["openLoopGcPauseMs"] = Math.Round(gcPause.TotalMilliseconds, 1);
        var p50 = MailboxBench.Percentile(open.SortedLatenciesMs, 0.50);
        var p99 = MailboxBench.Percentile(open.SortedLatenciesMs, 0.99);
        results["openLoopRate"] = openRate;
        results["openLoopPushes"] = open.Pushes;
        results["openLoopAchievedPerSecond"] = Math.Round(open.AchievedRate);
        results["openLoopP50Ms"] = Math.Round(p50, 3);
        results["openLoopP99Ms"] = Math.Round(p99, 3);
        results["openLoopP999Ms"] = Math.Round(MailboxBench.Percentile(open.SortedLatenciesMs, 0.999), 3);
        results["openLoopMaxSendLagMs"] = Math.Round(open.MaxSendLagMs, 3);
        results["openLoopStartTimestamp"] = open.StartTimestamp;
        results["openLoopWorstWindows"] = open.WorstWindows;
        results["openLoopCpuMicrosPerPush"] = Math.Round(open.Cpu.TotalMicroseconds / open.Pushes, 1);
        results["openLoopMaxPoolQueue"] = open.MaxPoolQueue;
        results["openLoopMaxPoolThreads"] = open.MaxPoolThreads;
        // Met when the schedule was kept (within 1 %) and the tail measured from each push's due time is within target.
        var met = openRate >= MailboxBench.PushTargetRate && open.AchievedRate >= 0.99 * openRate && p99 <= MailboxBench.PushTargetP99Ms;
        results["openLoopTargetMet"] = met;
        Console.WriteLine($"mailbox push (open loop): {open.Pushes:N0} pushes due at {openRate:N0}/s over {clients.Count} sessions, achieved {open.AchievedRate:N0}/s, " +
            $"latency from the due time p50 {p50:0.000} ms, p99 {p99:0.000} ms, p99.9 {MailboxBench.Percentile(open.SortedLatenciesMs, 0.999):0.000} ms " +
            $"(dispatcher lag at most {open.MaxSendLagMs:0.0} ms); {open.Cpu.TotalMicroseconds / open.Pushes:0.0} us CPU and {allocated / open.Pushes:N0} B allocated per push; " +
            $"GC paused the process {gcPause.TotalMilliseconds:0.0} ms in total ({gcs}); thread pool at most {open.MaxPoolThreads} threads, {open.MaxPoolQueue} queued items");
        Console.WriteLine($"push target >= {MailboxBench.PushTargetRate:N0}/s with p99 <= {MailboxBench.PushTargetP99Ms} ms at that rate: {(met ? "met" : "not met")}");
    }

    /// <summary>Records each push's latency as it completes and completes <see cref="AllDone"/> after the last (or the first failure).</summary>
    private sealed class CompletionTracker(int count)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _left = count;

        public Task AllDone => _done.Task;

        public void Track(Task<MailboxPushResult> push, long due, double[] latencies, int index)
        {
            if (push.IsCompleted)
            {
                Complete(push, due, latencies, index);
                return;
            }
            // One continuation per push, nothing kept once it ran.
            push.ContinueWith(static (t, state) =>
            {
                var (tracker, due, latencies, index) = ((CompletionTracker, long, double[], int))state!;
                tracker.Complete(t, due, latencies, index);
            }, (this, due, latencies, index), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        private void Complete(Task<MailboxPushResult> push, long due, double[] latencies, int index)
        {
            latencies[index] = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
            if (push.IsFaulted || push.IsCanceled)
            {
                _done.TrySetException(push.Exception?.InnerException ?? new OperationCanceledException("a push was cancelled"));
                return;
            }
            if (push.Result.Duplicate)
            {
                _done.TrySetException(new InvalidOperationException("unexpected duplicate"));
                return;
            }
            if (Interlocked.Decrement(ref _left) == 0) _done.TrySetResult();
        }
    }
}
