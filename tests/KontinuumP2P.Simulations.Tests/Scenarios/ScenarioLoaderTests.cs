using KontinuumP2P.Simulations.Scenarios;

namespace KontinuumP2P.Simulations.Tests.Scenarios;

public sealed class ScenarioLoaderTests
{
    [Test]
    public void Every_shipped_scenario_file_loads()
    {
        var files = Directory.GetFiles(Path.Combine(SimulationProcess.RepositoryRoot, "simulations", "scenarios"), "*.toml");
        Assert.That(files, Has.Length.GreaterThanOrEqualTo(9));
        foreach (var file in files) Assert.That(() => ScenarioLoader.Load(file), Throws.Nothing, file);
    }

    [Test]
    public void Snake_case_keys_fill_the_settings()
    {
        var scenario = ScenarioLoader.Parse("""
            nodes = 30
            [join]
            bootstrap_nodes = 3
            [adversary]
            role = "withholder"
            fractions = [0.2, 0.4]
            [dht]
            disjoint_paths = [1, 3]
            """, "inline.toml");
        Assert.That(scenario.Join.BootstrapNodes, Is.EqualTo(3));
        Assert.That(ScenarioVariant.All(scenario).Select(v => v.Label(scenario)),
            Is.EqualTo(new[] { "withholder=0.2 d=1", "withholder=0.2 d=3", "withholder=0.4 d=1", "withholder=0.4 d=3" }));
    }

    [TestCase("nodez = 3", "unknown key 'nodez'")]
    [TestCase("[network]\nlatency = 3", "unknown key 'network.latency'")]
    [TestCase("[network]\nloss = 1.5", "'network.loss'")]
    [TestCase("[lookups]\nkind = \"walk\"", "'lookups.kind'")]
    [TestCase("[adversary]\nrole = \"evil\"", "'adversary.role'")]
    public void Bad_files_are_refused_naming_the_key(string toml, string expected)
    {
        Assert.That(() => ScenarioLoader.Parse(toml, "bad.toml"),
            Throws.InstanceOf<ScenarioFormatException>().With.Message.Contains(expected).And.Message.StartsWith("bad.toml"));
    }
}
