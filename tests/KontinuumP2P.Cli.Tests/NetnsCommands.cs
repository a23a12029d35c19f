using System.Diagnostics;
using System.Globalization;

namespace KontinuumP2P.Cli.Tests;

/// <summary>The <c>ip</c>/<c>sysctl</c> calls the namespace fixtures share: a bounded run, and a namespace's removal.</summary>
internal static class NetnsCommands
{
    /// <summary>Runs a command to completion (10 s at most) and returns its standard output.</summary>
    /// <exception cref="InvalidOperationException">It timed out or exited non-zero (the message carries its stderr).</exception>
    public static string Run(string fileName, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(10_000))
        {
            process.Kill();
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} timed out");
        }
        if (process.ExitCode != 0) throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} failed: {error.Result}");
        return output.Result;
    }

    /// <summary>
    /// Ends whatever still runs in namespace <paramref name="name"/> (a grandchild, say, would keep it busy), then
    /// deletes it.
    /// </summary>
    public static void Delete(string name)
    {
        foreach (var pid in Run("ip", "netns", "pids", name).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            try
            {
                using var leftover = Process.GetProcessById(int.Parse(pid.Trim(), CultureInfo.InvariantCulture));
                leftover.Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                // already gone
            }
        }
        Run("ip", "netns", "delete", name);
    }
}
