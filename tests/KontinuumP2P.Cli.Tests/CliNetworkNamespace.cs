using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

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
        var info = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "netns", "exec", Name, "dotnet", NodeProcess.CliPath }.Concat(args)) info.ArgumentList.Add(a);
        // A KONTINUUM__ variable of the machine would change the child's config: only the test's own reach it.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("KONTINUUM__", StringComparison.Ordinal)).ToList()) info.Environment.Remove(key);
        foreach (var (key, value) in environment) info.Environment[key] = value;
        var process = new NamespacedProcess(name, info);
        lock (_processes) _processes.Add(process);
        process.Start();
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

/// <summary>A child process in a namespace: stdout and stderr kept in memory, its first stdout line, SIGTERM, kill on dispose.</summary>
internal sealed class NamespacedProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _errors = new();
    private readonly TaskCompletionSource<string> _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _started;
    private bool _disposed;

    public NamespacedProcess(string name, ProcessStartInfo info)
    {
        Name = name;
        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_output) _output.AppendLine(e.Data);
            if (e.Data.Length > 0) _firstLine.TrySetResult(e.Data);
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_errors) _errors.AppendLine(e.Data);
        };
        _process.Exited += (_, _) => _firstLine.TrySetException(new InvalidOperationException($"{name} exited before its first line"));
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public string Errors
    {
        get
        {
            lock (_errors) return _errors.ToString();
        }
    }

    public void Start()
    {
        _process.Start();
        _started = true;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The first stdout line as JSON.</summary>
    public async Task<JsonElement> FirstLineAsync(TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            var line = await _firstLine.Task.WaitAsync(timeout, ct);
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            Assert.Fail($"{Name}: no first line ({e.Message}); stderr:\n{Errors}");
            throw;
        }
    }

    /// <summary>The exit code, or null when the process is still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            await _process.WaitForExitAsync(ct).WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
            return null;
        }
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_started)
        {
            try
            {
                if (!_process.HasExited)
                {
                    // SIGTERM first so the node saves and closes its store; a kill if it has not stopped in 3 s.
                    using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])) term.WaitForExit(3000);
                    if (!_process.WaitForExit(3000)) _process.Kill(entireProcessTree: true);
                }
                _process.WaitForExit(5000);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // already gone
            }
        }
        _process.Dispose();
    }
}
