using KontinuumP2P.Benchmarks;

// Bench commands are discovered by type so each bench lives in its own file.
var benches = typeof(IBench).Assembly.GetTypes()
    .Where(t => typeof(IBench).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false })
    .Select(t => (IBench)Activator.CreateInstance(t)!)
    .OrderBy(b => b.Name, StringComparer.Ordinal)
    .ToList();

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: KontinuumP2P.Benchmarks <bench> [args]");
    foreach (var b in benches) Console.WriteLine($"  {b.Name,-20} {b.Description}");
    return args.Length == 0 ? 2 : 0;
}

var bench = benches.FirstOrDefault(b => b.Name == args[0]);
if (bench is null)
{
    Console.Error.WriteLine($"unknown bench '{args[0]}'");
    return 2;
}
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
return await bench.RunAsync(args[1..], cts.Token);
