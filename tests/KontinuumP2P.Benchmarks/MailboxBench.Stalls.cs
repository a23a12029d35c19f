using KontinuumP2P.Mailbox.Storage;

namespace KontinuumP2P.Benchmarks;

public sealed partial class MailboxBench
{
    /// <summary>
    /// Where the writer stops during the open loop, beside the WAL fsyncs and group commits: the checkpoints it runs to
    /// restart the WAL, the commit that restarts it, its waits for the flush task, and the background checkpoints (which
    /// do not stop it). Count, p50, max and the sum of each, so a stall can be matched with the open loop's tail.
    /// </summary>
    private static class StoreStalls
    {
        public static void Start(MailboxStore store)
        {
            store.WriterCheckpointTimes.Start();
            store.RestartCommitTimes.Start();
            store.BackgroundCheckpointTimes.Start();
            store.BackpressureTimes.Start();
            store.Stalls.Start();
        }

        /// <summary>
        /// For each of the open loop's worst 100 ms windows (by pushes over 10 ms, from the client's report), the store
        /// stalls of 2 ms or more that started from 100 ms before it to its end: which step the tail waited for.
        /// </summary>
        public static void Correlate(MailboxStore store, System.Text.Json.JsonElement open)
        {
            if (!open.TryGetProperty("openLoopStartTimestamp", out var startElement) || !open.TryGetProperty("openLoopWorstWindows", out var worstElement)) return;
            var start = startElement.GetInt64();
            var stalls = store.Stalls.Take();
            var summary = stalls.GroupBy(s => s.Kind).Select(g => $"{g.Key} {g.Count()}x sum {g.Sum(s => s.Elapsed.TotalMilliseconds):0} ms");
            Console.WriteLine("store steps of 2 ms or more during the open loop: " + string.Join("; ", summary));
            foreach (var window in (worstElement.GetString() ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(5))
            {
                var parts = window.Split(':');
                var offset = double.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
                var near = stalls
                    .Select(s => (At: (s.Started - start) * 1000.0 / System.Diagnostics.Stopwatch.Frequency, s.Kind, s.Elapsed))
                    .Where(s => s.At >= offset - 100 && s.At < offset + 100)
                    .Select(s => $"{s.Kind} at {s.At:0} for {s.Elapsed.TotalMilliseconds:0.0}");
                Console.WriteLine($"  window at {offset:0} ms (max {parts[1]} ms, {parts[2]} pushes over 10 ms): {string.Join(", ", near)}");
            }
        }

        public static void Report(MailboxStore store, Dictionary<string, object> results)
        {
            var parts = new List<string>();
            foreach (var (name, recorder) in new[]
            {
                ("writerCheckpoint", store.WriterCheckpointTimes), ("restartCommit", store.RestartCommitTimes),
                ("backpressure", store.BackpressureTimes), ("backgroundCheckpoint", store.BackgroundCheckpointTimes),
            })
            {
                var times = recorder.Take();
                var sum = times.Sum(t => t.TotalMilliseconds);
                results[$"openLoop{char.ToUpperInvariant(name[0])}{name[1..]}s"] = times.Length;
                results[$"openLoop{char.ToUpperInvariant(name[0])}{name[1..]}P50Ms"] = Math.Round(MailboxStoreBench.Quantile(times, 0.5), 3);
                results[$"openLoop{char.ToUpperInvariant(name[0])}{name[1..]}MaxMs"] = Math.Round(MailboxStoreBench.Quantile(times, 1), 3);
                parts.Add($"{name} {times.Length:N0}x p50 {MailboxStoreBench.Quantile(times, 0.5):0.000} ms max {MailboxStoreBench.Quantile(times, 1):0.000} ms sum {sum:0} ms");
            }
            results["catchUpPassesRun"] = store.CatchUpPasses;
            Console.WriteLine("store stalls during the open loop: " + string.Join("; ", parts) + $"; catch-up passes {store.CatchUpPasses}");
        }
    }
}
