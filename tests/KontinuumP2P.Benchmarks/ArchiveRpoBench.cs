using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// Recovery point under a steady push load: a real replica mailbox store (SQLite) takes pushes at a fixed rate while
/// the real pusher runs as its background service against a <c>dir:</c> sink. Per blob, the time from its push being
/// acknowledged (committed, cursor returned) to the pack holding it being verified in the sink and committed as
/// archived. The bound is the configured interval (pack age) plus one poll plus the pack's write.
/// Usage: <c>archive-rpo [--rate BLOBS_PER_S] [--seconds S] [--interval S] [--poll S] [--blob-kib K] [--dir PATH]</c>.
/// </summary>
public sealed class ArchiveRpoBench : IBench
{
    /// <inheritdoc />
    public string Name => "archive-rpo";

    /// <inheritdoc />
    public string Description => "archive recovery point: push ack → in a verified pack, under a steady push load";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        double rate = 50, seconds = 40, interval = 10, poll = 1;
        var blobKib = 4;
        string? root = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rate" when i + 1 < args.Length: rate = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seconds" when i + 1 < args.Length: seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--interval" when i + 1 < args.Length: interval = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--poll" when i + 1 < args.Length: poll = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--blob-kib" when i + 1 < args.Length: blobKib = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dir" when i + 1 < args.Length: root = args[++i]; break;
                default:
                    Console.Error.WriteLine($"unknown argument '{args[i]}'");
                    return 2;
            }
        }
        var dir = Directory.CreateDirectory(Path.Combine(root ?? Path.GetTempPath(), $"kp-archive-rpo-{Environment.ProcessId}")).FullName;
        try
        {
            var count = (int)(rate * seconds);
            var acked = new long[count + 1];
            var archivedAt = new long[count + 1];
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var store = await MailboxStore.OpenAsync(new MailboxStoreOptions
            {
                DatabasePath = Path.Combine(dir, "store.db"), Role = MailboxRole.Replica, ArchiveHold = _ => true,
            });
            using var state = new PusherStateStore(Path.Combine(dir, "state.db"));
            await using var sink = new DirectorySink(Path.Combine(dir, "sink"));
            using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store), [sink], state, new ArchivePusherOptions
            {
                MaxPackAge = TimeSpan.FromSeconds(interval), PollInterval = TimeSpan.FromSeconds(poll),
            }, TimeProvider.System);
            var packs = 0;
            pusher.PackArchived += p =>
            {
                var now = Stopwatch.GetTimestamp();
                packs++;
                for (var c = p.FirstCursor; c <= p.LastCursor && c <= (ulong)count; c++) archivedAt[c] = now;
                if (p.LastCursor >= (ulong)count) done.TrySetResult();
            };
            var random = new Random(5);
            var id = new byte[32];
            random.NextBytes(id);
            var opened = await store.OpenMailboxAsync(id, id, id[..16], id, cancellationToken);
            await pusher.StartAsync(cancellationToken);
            var start = Stopwatch.GetTimestamp();
            for (var i = 1; i <= count; i++)
            {
                var due = start + (long)((i - 1) / rate * Stopwatch.Frequency);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero) await Task.Delay(wait, cancellationToken);
                var data = new byte[blobKib * 1024];
                random.NextBytes(data);
                var result = await store.PushAsync(opened.Handle, KontinuumP2P.Certs.Hashing.Blake3.Hash(data), data, TimeSpan.Zero, cancellationToken);
                acked[result.Cursor] = Stopwatch.GetTimestamp();
            }
            var pushSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            await done.Task.WaitAsync(TimeSpan.FromSeconds(interval + poll + 120), cancellationToken);
            await pusher.StopAsync(cancellationToken);
            var lags = Enumerable.Range(1, count).Select(c => Stopwatch.GetElapsedTime(acked[c], archivedAt[c]).TotalSeconds).Order().ToList();
            double P(double q) => lags[Math.Min(lags.Count - 1, (int)(q * lags.Count))];
            var bound = interval + poll;
            var summary = new
            {
                bench = "archive-rpo", blobs = count, rateActual = count / pushSeconds, blobKib, intervalS = interval, pollS = poll, packs,
                lagP50S = P(0.5), lagP99S = P(0.99), lagMaxS = lags[^1], boundS = bound, maxOverInterval = lags[^1] / interval,
            };
            Console.WriteLine($"{count} blobs at {summary.rateActual:F1}/s, interval {interval} s, poll {poll} s: {packs} packs; " +
                $"ack → verified pack p50 {summary.lagP50S:F2} s, p99 {summary.lagP99S:F2} s, max {summary.lagMaxS:F2} s (bound interval + poll = {bound} s + pack write)");
            Console.WriteLine(JsonSerializer.Serialize(summary));
            return lags[^1] <= bound + 30 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
