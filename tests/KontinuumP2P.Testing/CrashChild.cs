using System.Diagnostics;

namespace KontinuumP2P.Testing;

/// <summary>
/// A crash-host child process (a test helper exe copied beside the test assembly) that a crash-safety test reads line
/// by line and SIGKILLs. Disposing kills it if it still runs.
/// </summary>
public sealed class CrashChild : IDisposable
{
    private readonly Process _process;

    private CrashChild(Process process) => _process = process;

    /// <summary>Starts <c>dotnet exec &lt;assembly&gt;.dll</c> from the test's output folder with <paramref name="arguments"/>.</summary>
    public static CrashChild Start(string assemblyName, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, assemblyName + ".dll"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        return new CrashChild(Process.Start(start) ?? throw new InvalidOperationException($"could not start {assemblyName}"));
    }

    /// <summary>The next stdout line (a minute at most: dotnet starts slowly on a loaded machine), or null at its end.</summary>
    public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var line = await _process.StandardOutput.ReadLineAsync(timeout.Token);
        if (line is null && _process.HasExited && _process.ExitCode != 137 && _process.ExitCode != -1)
            throw new InvalidOperationException($"the child exited with {_process.ExitCode}: {await _process.StandardError.ReadToEndAsync(cancellationToken)}");
        return line;
    }

    /// <summary>SIGKILL (Process.Kill sends SIGKILL on Linux), wait for the exit, and return every line it had printed but not yet read.</summary>
    public async Task<List<string>> KillAndDrainAsync(CancellationToken cancellationToken)
    {
        if (!_process.HasExited) _process.Kill();
        await _process.WaitForExitAsync(cancellationToken);
        var rest = new List<string>();
        while (await _process.StandardOutput.ReadLineAsync(cancellationToken) is { } line) rest.Add(line);
        return rest;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
        _process.Dispose();
    }
}
