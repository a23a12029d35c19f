using System.Diagnostics;
using System.Text;
using System.Text.Json;
using KontinuumP2P.Testing.JsHarness;

namespace KontinuumP2P.Benchmarks;

/// <summary>
/// Runs <c>tests/Interop/harness/bench.mjs</c> (js-libp2p on Node 22) so js's figures are measured in the same
/// session as ours; the child is killed with its process tree on timeout or cancellation.
/// </summary>
internal static class JsBenchRunner
{
    /// <summary>Runs one bench mode and returns the JSON object it printed last.</summary>
    public static async Task<JsonElement> RunAsync(string mode, IEnumerable<string> arguments, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        HarnessPaths.EnsureInstalled();
        var startInfo = new ProcessStartInfo(HarnessPaths.NodeExecutable)
        {
            WorkingDirectory = HarnessPaths.HarnessDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        startInfo.ArgumentList.Add(HarnessPaths.Script("bench.mjs"));
        startInfo.ArgumentList.Add(mode);
        foreach (var argument in arguments) startInfo.ArgumentList.Add(argument);
        startInfo.ArgumentList.Add("--timeout-ms");
        startInfo.ArgumentList.Add(((long)timeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // js enforces the timeout itself; the margin covers its start and teardown.
        deadline.CancelAfter(timeout + TimeSpan.FromSeconds(30));
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("could not start node");
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
            var stderr = ForwardAsync(process.StandardError, deadline.Token);
            await process.WaitForExitAsync(deadline.Token);
            var output = await stdout;
            await stderr;
            if (process.ExitCode != 0) throw new InvalidOperationException($"bench.mjs {mode} exited with {process.ExitCode}");
            var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
                ?? throw new InvalidOperationException($"bench.mjs {mode} printed nothing");
            using var document = JsonDocument.Parse(last);
            return document.RootElement.Clone();
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    private static async Task ForwardAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
            await Console.Error.WriteLineAsync(line.AsMemory(), cancellationToken);
    }
}
