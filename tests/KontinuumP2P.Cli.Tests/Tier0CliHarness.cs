using System.CommandLine;
using System.Text.Json;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

/// <summary>Runs the trust command groups in-process with captured output, in a fresh temporary folder.</summary>
internal sealed class Tier0CliHarness : IDisposable
{
    public Tier0CliHarness() => Directory = System.IO.Directory.CreateTempSubdirectory("kp-cli-trust-").FullName;

    public string Directory { get; }

    public string PathOf(string name) => Path.Combine(Directory, name);

    public async Task<CliResult> RunAsync(params string[] args)
    {
        var root = new RootCommand("test")
        {
            NodeIdentityCommands.Create(),
            Tier0Commands.Create(),
            CertCommands.Create(),
            CrlCommands.Create(),
        };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, CancellationToken.None);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Runs and requires exit code 0, returning the parsed JSON output.</summary>
    public async Task<JsonElement> JsonAsync(params string[] args)
    {
        var result = await RunAsync([.. args, "--json"]);
        Assert.That(result.Code, Is.EqualTo(0), $"kontinuum {string.Join(' ', args)}\nstderr: {result.Error}\nstdout: {result.Output}");
        return JsonDocument.Parse(result.Output).RootElement.Clone();
    }

    public string WriteText(string name, string text)
    {
        var path = PathOf(name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

internal sealed record CliResult(int Code, string Output, string Error);
