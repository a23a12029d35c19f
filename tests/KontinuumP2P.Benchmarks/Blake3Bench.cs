using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KontinuumP2P.Certs.Hashing;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// One-core BLAKE3 throughput against <c>b3sum --num-threads 1</c> on the same files in the same run. Each round
/// measures, back to back, our file path (the one <c>kontinuum blake3</c> uses), our in-memory hash and b3sum, so all
/// three see the same machine load; the table shows best and median of the rounds. Small files are hashed many times
/// per measurement (b3sum gets the file repeated on one command line) so process start-up does not dominate.
/// Besides wall-clock rates it reports CPU-time rates (user + system, from getrusage: our process, b3sum as a reaped
/// child), which stay meaningful when other work shares the cores.
/// Usage: <c>blake3 [--rounds N] [--sizes 1K,64K,1M,64M,1G]</c>.
/// </summary>
public sealed class Blake3Bench : IBench
{
    /// <summary>Bytes hashed per measurement, at least: small files are repeated up to this volume.</summary>
    private const long BytesPerMeasurement = 64L << 20;

    private const int MaxRepeats = 2000;

    /// <summary>What hashes on our side: the managed Blake3 package and the widest vectors this CPU accelerates.</summary>
    private static readonly string Implementation =
        $"Blake3 package {System.Reflection.Assembly.Load("Blake3").GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false).OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion.Split('+')[0]}, " +
        (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "Vector512" : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "Vector256" : "Vector128");

    /// <inheritdoc />
    public string Name => "blake3";

    /// <inheritdoc />
    public string Description => "BLAKE3 GB/s on one core, 1 KiB..1 GiB files: ours (file and in-memory) vs b3sum --num-threads 1";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var rounds = 5;
        var sizes = new[] { "1K", "64K", "1M", "64M", "1G" };
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--rounds" && i + 1 < args.Length) rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--sizes" && i + 1 < args.Length) sizes = args[++i].Split(',');
            else
            {
                Console.Error.WriteLine($"unknown argument '{args[i]}'");
                return 2;
            }
        }
        var b3sum = FindOnPath("b3sum");
        Console.WriteLine($"BLAKE3: {Implementation}; b3sum: {b3sum ?? "not installed"}; rounds: {rounds}");
        Console.WriteLine($"{"size",6} {"clock",5} {"ours file GB/s",16} {"ours mem GB/s",16} {"b3sum GB/s",16} {"file/b3sum",11} {"mem/b3sum",10}");
        var results = new List<object>();
        foreach (var label in sizes)
        {
            var size = ParseSize(label);
            var path = Path.Combine(Path.GetTempPath(), $"kp-blake3-bench-{label}-{Environment.ProcessId}.bin");
            try
            {
                var data = await CreateFileAsync(path, size, cancellationToken);
                var repeats = (int)Math.Clamp(BytesPerMeasurement / size, 1, MaxRepeats);
                var expected = Convert.ToHexStringLower(Blake3.Hash(data));
                var ours = Convert.ToHexStringLower(await Blake3Sum.HashFileAsync(path, cancellationToken));
                if (ours != expected) throw new InvalidOperationException($"file and memory hashes differ for {label}");
                if (b3sum is not null)
                {
                    var theirs = await RunB3sumAsync(b3sum, path, 1, cancellationToken);
                    if (!theirs.StartsWith(expected, StringComparison.Ordinal))
                        throw new InvalidOperationException($"b3sum disagrees for {label}: {theirs}");
                }
                var file = new Rates();
                var memory = new Rates();
                var reference = new Rates();
                // Untimed warm-up so every measured round runs fully optimised code.
                for (var r = 0; r < Math.Min(repeats, 50); r++)
                {
                    await Blake3Sum.HashFileAsync(path, cancellationToken);
                    Blake3.Hash(data);
                }
                for (var round = 0; round < rounds; round++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var start = Sample.Now();
                    for (var r = 0; r < repeats; r++) await Blake3Sum.HashFileAsync(path, cancellationToken);
                    file.Add(size * (double)repeats, start, Sample.Now());
                    start = Sample.Now();
                    for (var r = 0; r < repeats; r++) Blake3.Hash(data);
                    memory.Add(size * (double)repeats, start, Sample.Now());
                    if (b3sum is null) continue;
                    start = Sample.Now();
                    await RunB3sumAsync(b3sum, path, repeats, cancellationToken);
                    reference.Add(size * (double)repeats, start, Sample.Now(), child: true);
                }
                results.Add(new
                {
                    size = label,
                    bytes = size,
                    repeats,
                    wall = new { oursFile = file.Wall.Summary(), oursMemory = memory.Wall.Summary(), b3sum = reference.Wall.Summary() },
                    cpu = new { oursFile = file.Cpu.Summary(), oursMemory = memory.Cpu.Summary(), b3sum = reference.Cpu.Summary() },
                });
                foreach (var (clock, f, m, b) in new[] { ("wall", file.Wall, memory.Wall, reference.Wall), ("cpu", file.Cpu, memory.Cpu, reference.Cpu) })
                    Console.WriteLine($"{label,6} {clock,5} {f,16} {m,16} {b,16} {f.Best / b.Best,11:F2} {m.Best / b.Best,10:F2}");
            }
            finally
            {
                File.Delete(path);
            }
        }
        Console.WriteLine("GB/s = 10^9 bytes/s, best / median of the rounds; ratios compare bests; cpu = user + system time.");
        Console.WriteLine(JsonSerializer.Serialize(new { bench = "blake3", implementation = Implementation, rounds, results },
            new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        return 0;
    }

    private static long ParseSize(string label)
    {
        var unit = char.ToUpperInvariant(label[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1L };
        var digits = unit == 1 ? label : label[..^1];
        return long.Parse(digits, CultureInfo.InvariantCulture) * unit;
    }

    /// <summary>Writes random bytes to <paramref name="path"/> and returns them (kept for the in-memory runs).</summary>
    private static async Task<byte[]> CreateFileAsync(string path, long size, CancellationToken cancellationToken)
    {
        var data = GC.AllocateUninitializedArray<byte>(checked((int)Math.Min(size, Array.MaxLength)));
        new Random(1).NextBytes(data);
        await File.WriteAllBytesAsync(path, data, cancellationToken);
        return data;
    }

    private static async Task<string> RunB3sumAsync(string b3sum, string path, int repeats,
        CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(b3sum) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("--num-threads");
        start.ArgumentList.Add("1");
        for (var i = 0; i < repeats; i++) start.ArgumentList.Add(path);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("b3sum did not start");
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0) throw new InvalidOperationException($"b3sum exited with {process.ExitCode}");
        return output;
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);

    /// <summary>Wall clock plus CPU seconds of this process and of its reaped children, at one instant.</summary>
    private readonly record struct Sample(long Ticks, double SelfCpu, double ChildCpu)
    {
        public static Sample Now() => new(Stopwatch.GetTimestamp(), ProcessResourceUsage.CpuSeconds(0), ProcessResourceUsage.CpuSeconds(-1));
    }

    /// <summary>Rates in GB/s by wall clock and by CPU time.</summary>
    private sealed class Rates
    {
        public RateList Wall { get; } = new();
        public RateList Cpu { get; } = new();

        public void Add(double bytes, Sample start, Sample end, bool child = false)
        {
            Wall.Add(bytes / Stopwatch.GetElapsedTime(start.Ticks, end.Ticks).TotalSeconds / 1e9);
            var cpu = child ? end.ChildCpu - start.ChildCpu : end.SelfCpu - start.SelfCpu;
            // getrusage ticks in microseconds but kernels account coarser: a zero reads as "too fast to see".
            Cpu.Add(cpu > 0 ? bytes / cpu / 1e9 : double.NaN);
        }
    }

    private sealed class RateList
    {
        private readonly List<double> _values = [];

        public void Add(double value)
        {
            if (double.IsFinite(value)) _values.Add(value);
        }

        public double Best => _values.Count == 0 ? double.NaN : _values.Max();

        public double Median
        {
            get
            {
                var sorted = _values.Order().ToArray();
                return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1
                    ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
            }
        }

        public object Summary() => new { best = Best, median = Median, samples = _values.Count };

        public override string ToString() =>
            _values.Count == 0 ? "n/a" : string.Create(CultureInfo.InvariantCulture, $"{Best:F2} / {Median:F2}");
    }
}
