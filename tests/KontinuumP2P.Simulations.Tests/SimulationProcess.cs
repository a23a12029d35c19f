using System.Diagnostics;
using System.Reflection;

namespace KontinuumP2P.Simulations.Tests;

/// <summary>
/// Runs the simulation executable in a process of its own: its runtime configuration gives the thread pool one worker,
/// which is what makes runs reproducible (a test host's pool has many).
/// </summary>
internal static class SimulationProcess
{
    public static string RepositoryRoot { get; } = typeof(SimulationProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .First(a => a.Key == "KontinuumRepositoryRoot").Value!.TrimEnd('/');

    public static string Scenario(string name) => Path.Combine(RepositoryRoot, "simulations", "scenarios", name + ".toml");

    /// <summary>Runs <c>run &lt;scenario&gt; args</c>; returns the exit code and the console output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string scenario, IEnumerable<string> args, TimeSpan timeout)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "KontinuumP2P.Simulations.dll");
        Assert.That(File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")), "the executable's runtime configuration must be next to it");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "run", scenario }.Concat(args)) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await output.ConfigureAwait(false) + await error.ConfigureAwait(false));
    }

    /// <summary>Reads summary.csv into (variant, metric) → value.</summary>
    public static Dictionary<(string Variant, string Metric), double> Summary(string directory) =>
        File.ReadAllLines(Path.Combine(directory, "summary.csv")).Skip(1)
            .Select(line => line.Split(','))
            .ToDictionary(c => (c[0], c[1]), c => c[2].Length == 0 ? double.NaN : double.Parse(c[2], System.Globalization.CultureInfo.InvariantCulture));
}
