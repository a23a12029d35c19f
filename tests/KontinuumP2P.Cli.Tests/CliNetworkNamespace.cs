global using NamespacedProcess = KontinuumP2P.Cli.Tests.NodeProcess;
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
        NetnsCommands.Run("ip", "netns", "add", name);
        try
        {
            NetnsCommands.Run("ip", "-n", name, "link", "set", "lo", "up");
            NetnsCommands.Run("ip", "-n", name, "link", "set", "lo", "multicast", "on");
            NetnsCommands.Run("ip", "-n", name, "route", "add", "224.0.0.0/4", "dev", "lo");
            var links = NetnsCommands.Run("ip", "-n", name, "-o", "link", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (links.Length != 1 || !links[0].Contains(" lo:", StringComparison.Ordinal))
                throw new InvalidOperationException($"namespace {name} has more than lo: {string.Join(" | ", links)}");
            return new CliNetworkNamespace(name);
        }
        catch
        {
            NetnsCommands.Run("ip", "netns", "delete", name);
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
        NetnsCommands.Delete(Name);
    }
}
