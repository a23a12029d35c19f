using System.Globalization;
using KontinuumP2P.Simulations.Scenarios;
using Spectre.Console;

namespace KontinuumP2P.Simulations.Reporting;

/// <summary>The console summary: one column per variant, one row per figure.</summary>
public static class SummaryTable
{
    /// <summary>Prints the table and where the files went.</summary>
    public static void Write(ScenarioFile scenario, IReadOnlyList<RunResult> results, string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(results);
        var table = new Table().Title(Markup.Escape($"{scenario.Name}: {scenario.Nodes} nodes, seed {scenario.Seed}"));
        // Redirected output has no terminal width: give the table room instead of wrapping every cell.
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 40 + (24 * results.Count));
        table.AddColumn(new TableColumn("figure").NoWrap());
        foreach (var result in results) table.AddColumn(new TableColumn(Markup.Escape(result.Variant)).RightAligned());
        var names = results.SelectMany(r => r.Metrics.Concat(r.Performance).Select(m => m.Key)).Distinct().ToList();
        foreach (var name in names)
        {
            var cells = new List<string> { name };
            foreach (var result in results)
            {
                var value = result.Metrics.Concat(result.Performance).FirstOrDefault(m => m.Key == name);
                cells.Add(value.Key is null || double.IsNaN(value.Value) ? "-" : value.Value.ToString("0.####", CultureInfo.InvariantCulture));
            }
            table.AddRow([.. cells.Select(Markup.Escape)]);
        }
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine($"CSV and plots: {Path.GetFullPath(outputDirectory)}");
    }
}
