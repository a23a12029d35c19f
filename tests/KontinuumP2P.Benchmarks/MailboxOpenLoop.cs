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
    public sealed record Result(int Pushes, double Rate, double AchievedRate, double[] SortedLatenciesMs, double MaxSendLagMs, TimeSpan Cpu);

    public static async Task<Result> RunAsync(IReadOnlyList<MailboxSession> sessions, double rate, TimeSpan duration, byte[] template,
        Func<TimeSpan> cpuTime, CancellationToken cancellationToken)
    {
        var count = (int)Math.Max(1, rate * duration.TotalSeconds);
        // Blobs and ids made up front: the dispatcher only sends.
        var blobs = new byte[count][];
        var ids = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var blob = (byte[])template.Clone();
            RandomNumberGenerator.Fill(blob.AsSpan(0, 16));
            blobs[i] = blob;
            ids[i] = KontinuumP2P.Certs.Hashing.Blake3.Hash(blob);
        }
        var latencies = new double[count];
        var tracked = new Task[count];
        var ticksPerPush = Stopwatch.Frequency / rate;
        double maxLagMs = 0;
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
                    var push = sessions[next % sessions.Count].PushAsync(blobs[next], ids[next], 0, cancellationToken);
                    tracked[next] = TrackAsync(push, due, latencies, next);
                    next++;
                }
                if (next < count) Thread.Sleep(1);
            }
        }) { IsBackground = true, Name = "mailbox-open-loop" };
        dispatcher.Start();
        await Task.Run(dispatcher.Join, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        await Task.WhenAll(tracked);
        var elapsed = Stopwatch.GetElapsedTime(start);
        cpu = cpuTime() - cpu;
        Array.Sort(latencies);
        return new Result(count, rate, count / elapsed.TotalSeconds, latencies, maxLagMs, cpu);
    }

    private static async Task TrackAsync(Task<MailboxPushResult> push, long due, double[] latencies, int index)
    {
        var result = await push.ConfigureAwait(false);
        latencies[index] = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
        if (result.Duplicate) throw new InvalidOperationException("unexpected duplicate");
    }
}
