using KontinuumP2P.Simulations.Reporting;

namespace KontinuumP2P.Simulations.Tests.Scenarios;

/// <summary>
/// Handing message objects over (the default) must not change what a run measures: the same scenario through the real
/// kad codec (<c>[network] codec = true</c>) gives byte-identical lookups, timeline and summary.
/// </summary>
[NonParallelizable]
public sealed class HandoverEquivalenceTests
{
    private string _root = "";

    [OneTimeSetUp]
    public void CreateFolder() => _root = Directory.CreateTempSubdirectory("kp-handover-").FullName;

    [OneTimeTearDown]
    public void RemoveFolder() => Directory.Delete(_root, recursive: true);

    [Test]
    public async Task Records_poisoners_and_disjoint_paths_give_the_same_results_with_and_without_the_codec()
    {
        var objects = await Run(codec: false);
        var codec = await Run(codec: true);
        var compared = 0;
        foreach (var file in CsvReport.DeterministicFiles.Where(f => File.Exists(Path.Combine(codec, f))))
        {
            Assert.That(File.ReadAllText(Path.Combine(objects, file)), Is.EqualTo(File.ReadAllText(Path.Combine(codec, file))), $"{file} differs");
            compared++;
        }
        Assert.That(compared, Is.GreaterThanOrEqualTo(3), "lookups, timeline and summary were compared");
        var summary = SimulationProcess.Summary(objects);
        Assert.That(summary[("poisoner=0.2 d=3", "lookups")], Is.GreaterThanOrEqualTo(80), "the run did GET records");
    }

    private async Task<string> Run(bool codec)
    {
        var name = codec ? "codec" : "objects";
        var scenario = Path.Combine(_root, name + ".toml");
        await File.WriteAllTextAsync(scenario, $"""
            name = "handover-{name}"
            seed = 3
            nodes = 60

            [network]
            codec = {(codec ? "true" : "false")}

            [dht]
            disjoint_paths = [3]

            [join]
            interval_ms = 250
            settle_minutes = 5

            [lookups]
            minutes = 3
            per_minute = 30
            kind = "get_record"

            [adversary]
            role = "poisoner"
            fractions = [0.2]
            """);
        var output = Path.Combine(_root, name);
        var (exit, console) = await SimulationProcess.RunAsync(scenario, ["--out", output, "--no-plots"], TimeSpan.FromMinutes(3));
        Assert.That(exit, Is.Zero, console);
        return output;
    }
}
