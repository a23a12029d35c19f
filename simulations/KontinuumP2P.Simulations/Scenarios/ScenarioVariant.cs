using System.Globalization;

namespace KontinuumP2P.Simulations.Scenarios;

/// <summary>One combination of the swept values of a scenario (attacker share × disjoint paths).</summary>
/// <param name="AttackerFraction">Share of attackers among all nodes (0 without an adversary).</param>
/// <param name="DisjointPaths">Disjoint lookup paths d.</param>
public sealed record ScenarioVariant(double AttackerFraction, int DisjointPaths)
{
    /// <summary>A short label for tables and file rows.</summary>
    public string Label(ScenarioFile scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        var parts = new List<string>();
        if (scenario.Adversary is { } adversary) parts.Add(string.Create(CultureInfo.InvariantCulture, $"{adversary.Role}={AttackerFraction:0.##}"));
        parts.Add(string.Create(CultureInfo.InvariantCulture, $"d={DisjointPaths}"));
        return string.Join(' ', parts);
    }

    /// <summary>Every combination the scenario sweeps, attacker share first.</summary>
    public static IReadOnlyList<ScenarioVariant> All(ScenarioFile scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        var fractions = scenario.Adversary?.Fractions ?? [0.0];
        return [.. fractions.SelectMany(f => scenario.Dht.DisjointPaths.Select(d => new ScenarioVariant(f, d)))];
    }
}
