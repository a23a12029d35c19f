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
