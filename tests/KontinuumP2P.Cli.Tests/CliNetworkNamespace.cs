global using NamespacedProcess = KontinuumP2P.Cli.Tests.NodeProcess;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// A Linux network namespace made for one test: only <c>lo</c>, up, multicast on and 224.0.0.0/4 routed to it, so
/// mDNS never reaches a real interface. The built CLI runs inside it through <c>ip netns exec</c> (which execs, so
/// the pid we hold is the dotnet process itself). On dispose every process started here is stopped, anything still
/// in the namespace is killed, and the namespace is deleted.
/// </summary>
internal sealed class CliNetworkNamespace : IDisposable
{
    private readonly List<NamespacedProcess> _processes = [];

    private CliNetworkNamespace(string name) => Name = name;

    public string Name { get; }

    /// <summary>Creates the namespace, or ignores the test when this machine cannot (not Linux, not root, no ip).</summary>
    public static CliNetworkNamespace Create()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" || !File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip"))
            Assert.Ignore("network namespace tests need Linux, root and iproute2 (CI runs them as root)");
        var name = "kpc-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
        Run("ip", "netns", "add", name);
        try
        {
            Run("ip", "-n", name, "link", "set", "lo", "up");
            Run("ip", "-n", name, "link", "set", "lo", "multicast", "on");
            Run("ip", "-n", name, "route", "add", "224.0.0.0/4", "dev", "lo");
            var links = Run("ip", "-n", name, "-o", "link", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (links.Length != 1 || !links[0].Contains(" lo:", StringComparison.Ordinal))
                throw new InvalidOperationException($"namespace {name} has more than lo: {string.Join(" | ", links)}");
            return new CliNetworkNamespace(name);
        }
        catch
        {
            Run("ip", "netns", "delete", name);
            throw;
        }
    }

    /// <summary>Starts <c>dotnet kontinuum.dll args</c> inside the namespace with only <paramref name="environment"/> as KONTINUUM__ overrides.</summary>
    public NamespacedProcess StartCli(string name, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var process = NodeProcess.StartInNamespace(Name, name, environment, args);
        lock (_processes) _processes.Add(process);
        return process;
    }

    /// <summary>Runs a short CLI command inside the namespace; killed when it outlives <paramref name="timeout"/>.</summary>
    public async Task<CliResult> RunCliAsync(TimeSpan timeout, CancellationToken ct, params string[] args)
    {
        using var process = StartCli(string.Join(' ', args.Take(2)), new Dictionary<string, string>(), args);
        var code = await process.WaitForExitAsync(timeout, ct);
        return new CliResult(code ?? -1, process.Output, code is null ? $"timed out after {timeout}\n{process.Errors}" : process.Errors);
    }

    public void Dispose()
    {
        List<NamespacedProcess> started;
        lock (_processes) started = [.. _processes];
        foreach (var process in started) process.Dispose();
        // Whatever else still runs in our namespace (a grandchild, say) would keep it busy: end it by pid.
        foreach (var pid in Run("ip", "netns", "pids", Name).Split('\n', StringSplitOptions.RemoveEmptyEntries))
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
        Run("ip", "netns", "delete", Name);
    }

    private static string Run(string fileName, params string[] arguments)
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
}
