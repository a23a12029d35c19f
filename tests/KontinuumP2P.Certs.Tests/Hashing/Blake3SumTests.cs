using System.Diagnostics;
using KontinuumP2P.Certs.Hashing;

namespace KontinuumP2P.Certs.Tests.Hashing;

/// <summary>The <c>kontinuum blake3</c> output (produced by <see cref="Blake3Sum"/>) against the real b3sum.</summary>
[TestFixture]
public sealed class Blake3SumTests
{
    private string _folder = "";

    [SetUp]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("kp-blake3sum-").FullName;

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    private string WriteFile(string name, int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        var path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string? FindB3sum() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, "b3sum")).FirstOrDefault(File.Exists);

    private static async Task<(int ExitCode, string Output, string Error)> RunB3sumAsync(string b3sum, IEnumerable<string> paths)
    {
        var start = new ProcessStartInfo(b3sum) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var path in paths) start.ArgumentList.Add(path);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunOursAsync(IReadOnlyList<string> paths)
    {
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter { NewLine = "\n" };
        var exitCode = await Blake3Sum.WriteChecksumsAsync(paths, () => Stream.Null, output, error, "kontinuum blake3",
            CancellationToken.None);
        return (exitCode, output.ToString(), error.ToString());
    }

    [Test]
    public async Task OutputEqualsB3sumOnTheSameFiles()
    {
        var b3sum = FindB3sum();
        if (b3sum is null) Assert.Ignore("b3sum is not installed (apt-get install b3sum)");
        string[] paths =
        [
            WriteFile("empty", 0), WriteFile("one byte", 1), WriteFile("chunk+1.bin", 1025),
            WriteFile("big.bin", (1 << 20) * 3 + 7), WriteFile("back\\slash", 100),
        ];
        var theirs = await RunB3sumAsync(b3sum, paths);
        var ours = await RunOursAsync(paths);
        Assert.That(theirs.ExitCode, Is.Zero, theirs.Error);
        Assert.That(ours.Output, Is.EqualTo(theirs.Output));
        Assert.That(ours.ExitCode, Is.Zero);
        Assert.That(ours.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(paths.Length));
    }

    [Test]
    public async Task MissingFileIsReportedAndTheOthersStillHashed()
    {
        var b3sum = FindB3sum();
        var present = WriteFile("present", 5000);
        var missing = Path.Combine(_folder, "missing-file");
        string[] paths = [present, missing, present];
        var ours = await RunOursAsync(paths);
        Assert.That(ours.ExitCode, Is.Not.Zero);
        Assert.That(ours.Error, Does.Contain(missing).And.Contain("No such file"));
        Assert.That(ours.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2));
        if (b3sum is null) Assert.Ignore("b3sum is not installed: only our side was checked");
        var theirs = await RunB3sumAsync(b3sum, paths);
        Assert.That(ours.Output, Is.EqualTo(theirs.Output));
        Assert.That(ours.ExitCode, Is.EqualTo(theirs.ExitCode));
    }

    [Test]
    public async Task DirectoryIsReportedAsAnError()
    {
        var ours = await RunOursAsync([_folder]);
        Assert.That(ours.ExitCode, Is.EqualTo(1));
        Assert.That(ours.Error, Does.Contain(_folder).And.Contain("Is a directory"));
        Assert.That(ours.Output, Is.Empty);
    }

    [Test]
    public async Task NoNamesOrDashReadStandardInput()
    {
        var input = new byte[3000];
        new Random(3).NextBytes(input);
        foreach (string[] paths in new[] { Array.Empty<string>(), ["-"] })
        {
            using var output = new StringWriter { NewLine = "\n" };
            var exitCode = await Blake3Sum.WriteChecksumsAsync(paths, () => new MemoryStream(input), output, TextWriter.Null,
                "kontinuum blake3", CancellationToken.None);
            Assert.That(exitCode, Is.Zero);
            Assert.That(output.ToString(), Is.EqualTo(Convert.ToHexStringLower(Blake3.Hash(input)) + "  -\n"));
        }
    }

    [Test]
    public void NamesWithBackslashOrNewlineAreEscapedLikeB3sum()
    {
        var hash = Blake3.Hash("x"u8);
        var hex = Convert.ToHexStringLower(hash);
        Assert.That(Blake3Sum.FormatLine(hash, "plain name"), Is.EqualTo($"{hex}  plain name"));
        Assert.That(Blake3Sum.FormatLine(hash, "a\\b\nc"), Is.EqualTo($"\\{hex}  a\\\\b\\nc"));
    }
}
