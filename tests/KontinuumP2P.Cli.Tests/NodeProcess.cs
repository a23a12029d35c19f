using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// A real <c>kontinuum</c> process started from the built CLI (<c>dotnet kontinuum.dll</c>), directly or inside a
/// network namespace: its stdout and first stdout line, its stderr kept in memory, SIGTERM, and a kill of the whole
/// tree on dispose whatever happened. The one process wrapper of these tests (<c>NamespacedProcess</c> is an alias).
/// </summary>
internal sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _errors = new();
    private readonly TaskCompletionSource<string> _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _terminateOnDispose;
    private bool _disposed;

    private NodeProcess(Process process, string name, bool terminateOnDispose)
    {
        _process = process;
        Name = name;
        _terminateOnDispose = terminateOnDispose;
    }

    public string Name { get; }

    /// <summary>Everything written to stdout so far.</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public int Pid => _process.Id;

    /// <summary>Raised for every stdout line as it arrives (on the reader's thread).</summary>
    public event Action<string>? LineReceived;

    public bool HasExited => _process.HasExited;

    public string Errors
    {
        get
        {
            lock (_errors) return _errors.ToString();
        }
    }

    /// <summary>The built CLI next to the test assembly (the project reference copies it there).</summary>
    public static string CliPath
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "kontinuum.dll");
            if (!File.Exists(path)) Assert.Fail($"the built CLI is missing: {path}");
            return path;
        }
    }

    /// <summary>Starts <c>dotnet kontinuum.dll args</c>; disposing it kills the process tree at once.</summary>
    public static NodeProcess Start(string name, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        Start(name, "dotnet", [CliPath, .. args], environment, terminateOnDispose: false);

    /// <summary>Starts <c>dotnet kontinuum.dll args</c> inside network namespace <paramref name="networkNamespace"/>;
    /// disposing it sends SIGTERM first (so a node saves and closes its store) and kills it 3 s later.</summary>
    public static NodeProcess StartInNamespace(string networkNamespace, string name, IReadOnlyDictionary<string, string> environment,
        params string[] args) =>
        Start(name, "ip", ["netns", "exec", networkNamespace, "dotnet", CliPath, .. args], environment, terminateOnDispose: true);

    private static NodeProcess Start(string name, string fileName, IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string> environment, bool terminateOnDispose)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        // Only this test's overrides reach the child: a KONTINUUM__ variable of the machine would change its config.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("KONTINUUM__", StringComparison.Ordinal)).ToList()) info.Environment.Remove(key);
        foreach (var (key, value) in environment) info.Environment[key] = value;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var node = new NodeProcess(process, name, terminateOnDispose);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (node._output) node._output.AppendLine(e.Data);
            if (e.Data.Length > 0) node._firstLine.TrySetResult(e.Data);
            node.LineReceived?.Invoke(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (node._errors) node._errors.AppendLine(e.Data);
        };
        process.Exited += (_, _) => node._firstLine.TrySetException(new InvalidOperationException($"{name} exited before its first line"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>The first stdout line as JSON (<c>{"peerId", "listenAddrs", …}</c>).</summary>
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

    /// <summary>Sends SIGTERM and waits for the exit; returns the exit code and how long the stop took.</summary>
    public async Task<(int Code, TimeSpan Took)> TerminateAsync(TimeSpan timeout, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(ct);
            if (kill.ExitCode != 0) Assert.Fail($"{Name}: kill -TERM failed with {kill.ExitCode}");
        }
        await _process.WaitForExitAsync(ct).WaitAsync(timeout, ct);
        return (_process.ExitCode, watch.Elapsed);
    }

    /// <summary>Resident memory in KiB from /proc (VmRSS).</summary>
    public long ResidentKiB()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        return -1;
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
        try
        {
            if (_terminateOnDispose && !_process.HasExited)
            {
                using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])) term.WaitForExit(3000);
                _process.WaitForExit(3000);
            }
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // never started or already gone
        }
        _process.Dispose();
    }

    /// <summary>A run of free loopback TCP ports (each bound and released once to check).</summary>
    public static int FreePortRange(int count)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var start = Random.Shared.Next(20000, 60000 - count);
            var free = true;
            for (var port = start; port < start + count && free; port++)
            {
                try
                {
                    using var probe = new TcpListener(System.Net.IPAddress.Loopback, port);
                    probe.Start();
                }
                catch (SocketException)
                {
                    free = false;
                }
            }
            if (free) return start;
        }
        Assert.Fail($"no {count} consecutive free ports found");
        return 0;
    }
}
