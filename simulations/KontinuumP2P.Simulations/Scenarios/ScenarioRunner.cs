namespace KontinuumP2P.Simulations.Scenarios;

/// <summary>Runs every variant of a scenario, one after the other, each on a fresh network with the same seed.</summary>
public static class ScenarioRunner
{
    /// <summary>Runs <paramref name="scenario"/>; <paramref name="progress"/> gets (variant, share done) on the driver thread.</summary>
    public static async Task<IReadOnlyList<RunResult>> RunAsync(ScenarioFile scenario, Action<string, double>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        if (scenario.Fleet is not null) return [Fleet.FleetRunner.Run(scenario, progress, cancellationToken)];
        var results = new List<RunResult>();
        foreach (var variant in ScenarioVariant.All(scenario))
        {
            var label = variant.Label(scenario);
            var run = new SimulationRun(scenario, variant) { Progress = share => progress?.Invoke(label, share) };
            results.Add(await run.RunAsync(cancellationToken).ConfigureAwait(false));
            progress?.Invoke(label, 1);
        }
        return results;
    }
}
