using System.Globalization;
using KontinuumP2P.Simulations.Scenarios;
using Spectre.Console;

namespace KontinuumP2P.Simulations.Reporting;

/// <summary>Shows how far a run is: a progress bar on an interactive console, plain lines when output is redirected.</summary>
public abstract class ProgressDisplay
{
    /// <summary>The display that suits the console.</summary>
    public static ProgressDisplay Create() => Console.IsOutputRedirected ? new LineProgress() : new BarProgress();

    /// <summary>Runs every variant of <paramref name="scenario"/> while showing progress.</summary>
    public abstract Task<IReadOnlyList<RunResult>> RunAsync(ScenarioFile scenario, CancellationToken cancellationToken);

    /// <summary>One line per 10% of virtual time per variant.</summary>
    private sealed class LineProgress : ProgressDisplay
    {
        public override Task<IReadOnlyList<RunResult>> RunAsync(ScenarioFile scenario, CancellationToken cancellationToken)
        {
            var lastDecile = new Dictionary<string, int>();
            return ScenarioRunner.RunAsync(scenario, (variant, share) =>
            {
                var decile = (int)(share * 10);
                if (lastDecile.TryGetValue(variant, out var last) && last >= decile) return;
                lastDecile[variant] = decile;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{scenario.Name} {variant}] {decile * 10}%"));
            }, cancellationToken);
        }
    }

    /// <summary>A Spectre.Console bar per variant (Spectre refreshes from its own thread, not the pool).</summary>
    private sealed class BarProgress : ProgressDisplay
    {
        public override async Task<IReadOnlyList<RunResult>> RunAsync(ScenarioFile scenario, CancellationToken cancellationToken)
        {
            IReadOnlyList<RunResult> results = [];
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async context =>
                {
                    var tasks = new Dictionary<string, ProgressTask>();
                    foreach (var variant in ScenarioVariant.All(scenario))
                    {
                        var label = variant.Label(scenario);
                        tasks[label] = context.AddTask(Markup.Escape($"{scenario.Name} {label}"), autoStart: false, maxValue: 1000);
                    }
                    results = await ScenarioRunner.RunAsync(scenario, (variant, share) =>
                    {
                        var task = tasks[variant];
                        if (!task.IsStarted) task.StartTask();
                        task.Value = Math.Round(share * 1000);
                    }, cancellationToken).ConfigureAwait(false);
                }).ConfigureAwait(false);
            return results;
        }
    }
}
