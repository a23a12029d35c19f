using KontinuumP2P.Simulations.Reporting;

namespace KontinuumP2P.Simulations.Tests.Scenarios;

/// <summary>
/// The bounded CI runs: 200 real DHT nodes (10% uncertified Sybils) on the simulated network. Checks the admission
/// invariant, lookup success without churn, and reproducibility (same seed, same bytes; another seed, other results).
/// </summary>
[NonParallelizable]
public sealed class BoundedRunTests
{
    private string _root = "";

    [OneTimeSetUp]
    public void CreateFolder() => _root = Directory.CreateTempSubdirectory("kp-sim-").FullName;

    [OneTimeTearDown]
    public void RemoveFolder() => Directory.Delete(_root, recursive: true);

    [Test]
    public async Task Two_hundred_nodes_keep_sybils_out_find_peers_and_repeat_exactly()
    {
        var first = Path.Combine(_root, "first");
        var again = Path.Combine(_root, "again");
        var other = Path.Combine(_root, "other");
        await Run("ci-invariants", first, "--seed", "1");
        await Run("ci-invariants", again, "--seed", "1", "--no-plots");
        await Run("ci-invariants", other, "--seed", "2", "--no-plots");

        var summary = SimulationProcess.Summary(first);
        const string variant = "uncertified=0.1 d=1";
        Assert.Multiple(() =>
        {
            Assert.That(summary[(variant, "attackers")], Is.EqualTo(20));
            Assert.That(summary[(variant, "lookups")], Is.GreaterThanOrEqualTo(250));
            Assert.That(summary[(variant, "success_rate")], Is.GreaterThanOrEqualTo(0.99));
            Assert.That(summary[(variant, "bad_entries_max")], Is.Zero, "uncertified ids in honest routing tables");
            Assert.That(summary[(variant, "revoked_in_honest_tables_final")], Is.Zero);
            Assert.That(summary[(variant, "routing_table_mean_size")], Is.GreaterThan(20));
        });
        foreach (var file in CsvReport.DeterministicFiles)
        {
            Assert.That(File.ReadAllBytes(Path.Combine(again, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(first, file))), $"{file} differs for the same seed");
        }
        Assert.That(File.ReadAllBytes(Path.Combine(other, "lookups.csv")), Is.Not.EqualTo(File.ReadAllBytes(Path.Combine(first, "lookups.csv"))),
            "another seed gave the same lookups");
        foreach (var plot in PlotReport.Files) Assert.That(new FileInfo(Path.Combine(first, plot)).Length, Is.GreaterThan(1000), plot);
    }

    [Test]
    public async Task A_new_crl_reaches_every_honest_node_and_revoked_ids_leave_their_tables()
    {
        var output = Path.Combine(_root, "crl");
        await Run("crl-propagation", output, "--nodes", "100", "--no-plots");
        var summary = SimulationProcess.Summary(output);
        const string variant = "d=1";
        Assert.Multiple(() =>
        {
            Assert.That(summary[(variant, "crl_propagation_seconds")], Is.GreaterThan(0).And.LessThanOrEqualTo(25 * 60));
            Assert.That(summary[(variant, "revoked_in_honest_tables_final")], Is.Zero);
            Assert.That(summary[(variant, "bad_entries_final")], Is.Zero);
            Assert.That(summary[(variant, "success_rate")], Is.GreaterThanOrEqualTo(0.99));
        });
    }

    private static async Task Run(string scenario, string output, params string[] args)
    {
        var (exit, console) = await SimulationProcess.RunAsync(SimulationProcess.Scenario(scenario), [.. args, "--out", output], TimeSpan.FromMinutes(4));
        Assert.That(exit, Is.Zero, console);
        Assert.That(console, Does.Contain("success_rate"), "the summary table is printed");
    }
}
