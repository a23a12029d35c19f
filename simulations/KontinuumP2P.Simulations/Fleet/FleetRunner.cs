using System.Diagnostics;
using System.Globalization;
using KontinuumP2P.Simulations.Scenarios;

namespace KontinuumP2P.Simulations.Fleet;

/// <summary>Runs a fleet-health scenario (<c>[fleet]</c>) and adds the machine's figures.</summary>
public static class FleetRunner
{
    /// <summary>Runs <paramref name="scenario"/>; <paramref name="progress"/> gets (variant, share done).</summary>
    public static RunResult Run(ScenarioFile scenario, Action<string, double>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        var f = scenario.Fleet ?? throw new ArgumentException("not a fleet scenario", nameof(scenario));
        var label = f.Failure switch
        {
            "mailbox" => string.Create(CultureInfo.InvariantCulture, $"kill={f.KillCount}"),
            "provider" => $"provider={(f.FailedProvider.Length > 0 ? f.FailedProvider : f.Providers[0])}",
            _ => string.Create(CultureInfo.InvariantCulture, $"liars={f.RegisteredLiars}+{f.UnregisteredLiars}"),
        };
        var started = Stopwatch.GetTimestamp();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        using var simulation = new FleetSimulation(scenario);
        var setup = Stopwatch.GetElapsedTime(started);
        var result = simulation.Run(label, share => progress?.Invoke(label, share), cancellationToken);
        result.Performance.Add(new("setup_wall_s", setup.TotalSeconds));
        result.Performance.Add(new("wall_s", Stopwatch.GetElapsedTime(started).TotalSeconds));
        result.Performance.Add(new("cpu_s", (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds));
        result.Performance.Add(new("peak_working_set_mib", Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024)));
        return result;
    }
}
