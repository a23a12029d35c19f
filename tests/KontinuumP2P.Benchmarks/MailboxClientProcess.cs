using System.Diagnostics;
using System.Text.Json;
using KontinuumP2P.Core.Addressing;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// Runs the mailbox bench's push phases from a child process (<see cref="MailboxClientBench"/>) against the server in
/// this process, and measures this process's CPU and GC over each phase: with the clients elsewhere that is the
/// server's own cost, as on a mailbox node.
/// </summary>
internal static class MailboxClientProcess
{
    /// <summary>What the child reported for each phase, with the server process's CPU and GC over it.</summary>
    public sealed record Phases(JsonElement Closed, TimeSpan ServerClosedCpu, JsonElement? Open, TimeSpan ServerOpenCpu, TimeSpan ServerOpenGcPause,
        string ServerOpenGcs, long ServerOpenAllocatedBytes);

    public static async Task<Phases> RunAsync(Multiaddr server, int sessions, int inFlight, int pushes, long rate, long seconds, int connections,
        Action? openLoopStarting, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo { FileName = Environment.ProcessPath!, RedirectStandardOutput = true, UseShellExecute = false };
        // Under `dotnet KontinuumP2P.Benchmarks.dll` the host needs the assembly; the apphost runs it itself.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet") start.ArgumentList.Add(typeof(MailboxClientProcess).Assembly.Location);
        foreach (var arg in new[]
        {
            "mailbox-client", "--server", server.ToString(), "--sessions", Invariant(sessions), "--inflight", Invariant(inFlight),
            "--pushes", Invariant(pushes), "--rate", Invariant(rate), "--rate-seconds", Invariant(seconds), "--connections", Invariant(connections),
        })
        {
            start.ArgumentList.Add(arg);
        }
        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not start the client process");
        try
        {
            JsonElement? closed = null, open = null;
            TimeSpan cpu = default, closedCpu = default, openCpu = default, gcPause = default;
            long allocated = 0;
            int[] gcCounts = [];
            var gcs = "";
            while (await child.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line == "@ready")
                {
                    cpu = MailboxBench.CpuTime();
                }
                else if (line.StartsWith("@closed ", StringComparison.Ordinal))
                {
                    closedCpu = MailboxBench.CpuTime() - cpu;
                    closed = JsonDocument.Parse(line["@closed ".Length..]).RootElement.Clone();
                    // The open loop starts right after this line.
                    openLoopStarting?.Invoke();
                    cpu = MailboxBench.CpuTime();
                    gcPause = GC.GetTotalPauseDuration();
                    gcCounts = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
                    allocated = GC.GetTotalAllocatedBytes(precise: false);
                }
                else if (line.StartsWith("@open ", StringComparison.Ordinal))
                {
                    openCpu = MailboxBench.CpuTime() - cpu;
                    allocated = GC.GetTotalAllocatedBytes(precise: false) - allocated;
                    gcPause = GC.GetTotalPauseDuration() - gcPause;
                    gcs = $"gen0/1/2 {GC.CollectionCount(0) - gcCounts[0]}/{GC.CollectionCount(1) - gcCounts[1]}/{GC.CollectionCount(2) - gcCounts[2]}";
                    open = JsonDocument.Parse(line["@open ".Length..]).RootElement.Clone();
                }
                else
                {
                    Console.WriteLine("[client process] " + line);
                }
            }
            await child.WaitForExitAsync(cancellationToken);
            if (child.ExitCode != 0 || closed is null) throw new InvalidOperationException($"the client process failed (exit code {child.ExitCode})");
            return new Phases(closed.Value, closedCpu, open, openCpu, gcPause, gcs, allocated);
        }
        finally
        {
            if (!child.HasExited) child.Kill(entireProcessTree: true);
        }
    }

    /// <summary>The gen0 budget a mailbox node runs with (docs/kontinuum-node.service sets <c>DOTNET_GCgen0size</c>).</summary>
    public const long NodeGen0Mib = 64;

    /// <summary>
    /// The GC reads its gen0 budget only from the environment at start, so the bench re-runs itself once with
    /// <c>DOTNET_GCgen0size</c> set to <paramref name="gen0Mib"/> MiB, as the node's unit does; null when it already
    /// runs under it (or <paramref name="gen0Mib"/> is 0: the runtime's default), otherwise the re-run's exit code.
    /// </summary>
    public static async Task<int?> ReRunWithGen0Async(string bench, string[] args, long gen0Mib, CancellationToken cancellationToken)
    {
        if (gen0Mib <= 0 || Environment.GetEnvironmentVariable("DOTNET_GCgen0size") is not null) return null;
        var start = new ProcessStartInfo { FileName = Environment.ProcessPath!, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet") start.ArgumentList.Add(typeof(MailboxClientProcess).Assembly.Location);
        start.ArgumentList.Add(bench);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_GCgen0size"] = "0x" + (gen0Mib << 20).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not re-run the bench");
        try
        {
            await child.WaitForExitAsync(cancellationToken);
            return child.ExitCode;
        }
        finally
        {
            if (!child.HasExited) child.Kill(entireProcessTree: true);
        }
    }

    private static string Invariant(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
