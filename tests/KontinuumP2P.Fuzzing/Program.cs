using SharpFuzz;

namespace KontinuumP2P.Fuzzing;

/// <summary>Runs one target under SharpFuzz (AFL out-of-process mode): <c>KontinuumP2P.Fuzzing &lt;target&gt;</c>.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        if (args is ["seeds", var corpus])
        {
            SeedCorpus.Write(corpus);
            return 0;
        }
        if (args.Length != 1 || !FuzzTargets.All.TryGetValue(args[0], out var target))
        {
            Console.Error.WriteLine($"usage: KontinuumP2P.Fuzzing <{string.Join('|', FuzzTargets.All.Keys)}>");
            return 2;
        }
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            target(copy.ToArray());
        });
        return 0;
    }
}
