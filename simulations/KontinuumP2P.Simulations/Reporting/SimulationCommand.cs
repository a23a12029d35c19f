using System.Globalization;
using KontinuumP2P.Simulations.Scenarios;

namespace KontinuumP2P.Simulations.Reporting;

/// <summary>
/// The command line: <c>run &lt;scenario.toml&gt; [--nodes N] [--seed S] [--minutes M] [--lookups-per-minute R] [--out DIR] [--no-plots]</c>.
/// Exit codes: 0 done, 2 bad usage or scenario, 1 the run failed.
/// </summary>
public static class SimulationCommand
{
    private const string Usage = "usage: run <scenario.toml> [--nodes N] [--seed S] [--minutes M] [--lookups-per-minute R] [--out DIR] [--no-plots]";

    /// <summary>Parses <paramref name="args"/> and runs the scenario.</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length < 2 || args[0] != "run")
        {
            await Console.Error.WriteLineAsync(Usage).ConfigureAwait(false);
            return 2;
        }
        ScenarioFile scenario;
        string output;
        bool plots;
        try
        {
            scenario = ScenarioLoader.Load(args[1]);
            (output, plots) = ApplyOptions(scenario, args[2..]);
            // Overrides go through the same checks as the file.
            ScenarioLoader.Check(scenario, args[1] + " (with overrides)");
        }
        catch (Exception e) when (e is ScenarioFormatException or IOException or FormatException or ArgumentException)
        {
            await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }
        var progress = ProgressDisplay.Create();
        IReadOnlyList<RunResult> results;
        try
        {
            results = await progress.RunAsync(scenario, cancellationToken).ConfigureAwait(false);
        }
        catch (Time.SimulationStalledException e)
        {
            await Console.Error.WriteLineAsync($"the simulation failed: {e.Message}").ConfigureAwait(false);
            return 1;
        }
        CsvReport.Write(output, results);
        if (plots && scenario.Fleet is null) PlotReport.Write(output, results); // the plots show lookups; a fleet run has fleet.csv
        SummaryTable.Write(scenario, results, output);
        return 0;
    }

    private static (string Output, bool Plots) ApplyOptions(ScenarioFile scenario, string[] options)
    {
        // Outside the working tree by default: runs should not leave files in a checkout.
        var output = Path.Combine(Path.GetTempPath(), "kontinuum-sim", scenario.Name ?? "scenario");
        var plots = true;
        for (var i = 0; i < options.Length; i++)
        {
            string Value() => i + 1 < options.Length ? options[++i] : throw new ArgumentException($"{options[i]} needs a value");
            switch (options[i])
            {
                case "--nodes":
                    scenario.Nodes = int.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--seed":
                    scenario.Seed = long.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--minutes":
                    scenario.Lookups.Minutes = double.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--lookups-per-minute":
                    scenario.Lookups.PerMinute = double.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--out":
                    output = Value();
                    break;
                case "--no-plots":
                    plots = false;
                    break;
                default:
                    throw new ArgumentException($"unknown option {options[i]}; {Usage}");
            }
        }
        return (output, plots);
    }
}
