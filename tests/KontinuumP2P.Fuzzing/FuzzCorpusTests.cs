namespace KontinuumP2P.Fuzzing;

/// <summary>Runs every fuzz target over its committed seed corpus plus cheap mutations of it, so CI exercises them.</summary>
[TestFixture]
public sealed class FuzzCorpusTests
{
    private static IEnumerable<string> Targets() => FuzzTargets.All.Keys;

    // 200 in CI; KONTINUUM_FUZZ_MUTATIONS raises it for a longer local run.
    private static int Mutations =>
        int.TryParse(Environment.GetEnvironmentVariable("KONTINUUM_FUZZ_MUTATIONS"), out var n) && n > 0 ? n : 200;

    [TestCaseSource(nameof(Targets))]
    [CancelAfter(120_000)]
    public void Every_seed_and_its_mutations_are_refused_cleanly_or_decoded(string name)
    {
        var target = FuzzTargets.All[name];
        var folder = Path.Combine(TestContext.CurrentContext.TestDirectory, "corpus", name);
        var seeds = Directory.GetFiles(folder).Select(File.ReadAllBytes).ToList();
        Assert.That(seeds, Is.Not.Empty, $"corpus/{name} has seeds");
        var random = new Random(11);
        var runs = 0;
        foreach (var seed in seeds)
        {
            target(seed);
            runs++;
            // A fixed number of deterministic mutations per seed: byte flips, truncations, duplications.
            for (var i = 0; i < Mutations; i++)
            {
                target(Mutate(seed, random));
                runs++;
            }
        }
        TestContext.Out.WriteLine($"{name}: {seeds.Count} seeds, {runs} inputs, no crash or hang");
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = seed.ToList();
        switch (random.Next(4))
        {
            case 0 when bytes.Count > 0:
                for (var flips = random.Next(1, 4); flips > 0; flips--) bytes[random.Next(bytes.Count)] = (byte)random.Next(256);
                break;
            case 1 when bytes.Count > 0:
                bytes.RemoveRange(random.Next(bytes.Count), bytes.Count - random.Next(bytes.Count) > 0 ? 1 : 0);
                bytes = bytes.Take(random.Next(bytes.Count + 1)).ToList();
                break;
            case 2:
                bytes.AddRange(bytes.Take(Math.Min(bytes.Count, 64)));
                break;
            default:
                bytes.Insert(random.Next(bytes.Count + 1), (byte)random.Next(256));
                break;
        }
        return [.. bytes];
    }
}
