using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using KontinuumP2P.Hq.Registry;

namespace KontinuumP2P.Hq.Provisioning;

/// <summary>
/// Starts <c>kontinuum node run --config &lt;spare&gt;/config/node.toml --json</c> as a child process for a spare
/// identity directory (as <c>devnet init</c> lays one out), waits for its first JSON line and checks that the node is
/// the spare's identity. Processes it started are stopped with SIGTERM, then killed after the timeout, and on dispose.
/// </summary>
public sealed class LocalProcessProvisioner : IProvisioner, IAsyncDisposable
{
    private readonly string _command;
    private readonly IReadOnlyList<string> _prefixArgs;
    private readonly TimeSpan _startTimeout;
    private readonly ConcurrentDictionary<string, Process> _running = new(StringComparer.Ordinal);

    /// <summary>Creates the provisioner.</summary>
    /// <param name="command">Executable (e.g. <c>dotnet</c> or an installed <c>kontinuum</c>).</param>
    /// <param name="prefixArgs">Arguments before <c>node run</c> (e.g. the path of <c>kontinuum.dll</c>).</param>
    /// <param name="startTimeout">How long a node may take to announce itself.</param>
    public LocalProcessProvisioner(string command, IReadOnlyList<string> prefixArgs, TimeSpan startTimeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        _command = command;
        _prefixArgs = prefixArgs ?? [];
        _startTimeout = startTimeout;
    }

    /// <summary>Relative path of the node configuration inside a spare directory.</summary>
    public const string ConfigPath = "config/node.toml";

    /// <summary>Nodes running now.</summary>
    public IReadOnlyCollection<string> Running => [.. _running.Keys];

    /// <inheritdoc />
    public async Task<ProvisionedNode> StartAsync(SpareEntry spare, string slot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spare);
        var config = Path.Combine(spare.Directory, ConfigPath);
        if (!File.Exists(config)) throw new FileNotFoundException($"spare {spare.Id} has no {ConfigPath} in {spare.Directory}", config);
        var info = new ProcessStartInfo(_command) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in _prefixArgs) info.ArgumentList.Add(a);
        foreach (var a in new[] { "node", "run", "--config", config, "--json" }) info.ArgumentList.Add(a);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("KONTINUUM__", StringComparison.Ordinal)).ToList()) info.Environment.Remove(key);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var firstLine = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line) firstLine.TrySetResult(line);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (errors)
            {
                if (errors.Length < 8192) errors.AppendLine(e.Data);
            }
        };
        process.Exited += (_, _) => firstLine.TrySetException(new IOException($"node for slot {slot} exited before announcing itself: {Errors(errors)}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var line = await firstLine.Task.WaitAsync(_startTimeout, cancellationToken).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(line);
            var peer = doc.RootElement.GetProperty("peerId").GetString();
            if (peer != spare.Id) throw new IOException($"spare {spare.Id} started as {peer}: its directory holds another identity");
            var addrs = doc.RootElement.TryGetProperty("listenAddrs", out var a) ? a.EnumerateArray().Select(x => x.GetString()!).ToList() : [];
            if (!_running.TryAdd(spare.Id, process)) throw new InvalidOperationException($"spare {spare.Id} is already running");
            return new ProvisionedNode(slot, spare.Id, addrs, process.Id);
        }
        catch
        {
            Kill(process);
            process.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">This provisioner did not start <paramref name="nodeId"/> (for example, it was started
    /// before HQ restarted), so it has no process to stop.</exception>
    public async Task StopAsync(string nodeId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // Silence here would let HQ record "stopped" for a node that still runs.
        if (!_running.TryRemove(nodeId, out var process))
            throw new InvalidOperationException($"node {nodeId} was not started by this HQ process; stop it by hand");
        using (process)
        {
            if (process.HasExited) return;
            using (var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await term.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await process.WaitForExitAsync(cancellationToken).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                Kill(process);
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var id in _running.Keys.ToList()) await StopAsync(id, TimeSpan.FromSeconds(15), CancellationToken.None).ConfigureAwait(false);
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static string Errors(System.Text.StringBuilder errors)
    {
        lock (errors) return errors.ToString();
    }
}
