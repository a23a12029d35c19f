using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KontinuumP2P.Testing.JsHarness;

/// <summary>
/// One js-libp2p peer (<c>tests/Interop/harness/peer.mjs</c> on Node 22) in a child process, driven by one JSON command
/// per stdin line and answering one JSON line per reply or event on stdout. Every command has a deadline; disposing
/// stops the peer and kills the process tree; failures carry the tail of the process's stderr.
/// </summary>
public sealed partial class JsPeer : IAsyncDisposable
{
    private const int StderrTailLines = 60;
    private const int MaxEvents = 10_000;
    private const int DiagnosticEvents = 15;
    private static readonly TimeSpan ReplyGrace = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(10);

    internal static readonly JsonSerializerOptions Json = CreateJsonOptions();

    private readonly Process _process;
    private readonly JsPeerOptions _options;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<long, TaskCompletionSource<JsonElement>> _pending = [];
    private readonly List<JsonElement> _events = [];
    private readonly List<(Func<JsonElement, bool> Match, TaskCompletionSource<JsonElement> Done)> _eventWaiters = [];
    private readonly Queue<string> _stderrTail = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly TaskCompletionSource<JsonElement> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _stdoutPump = Task.CompletedTask;
    private Task _stderrPump = Task.CompletedTask;
    private long _nextId;
    private int _disposed;

    private JsPeer(Process process, JsPeerOptions options)
    {
        _process = process;
        _options = options;
    }

    /// <summary>The js peer's id (<c>12D3KooW...</c>).</summary>
    public string PeerId { get; private set; } = "";

    /// <summary>The js peer's listen addresses, each ending in <c>/p2p/&lt;id&gt;</c>.</summary>
    public IReadOnlyList<string> Addresses { get; private set; } = [];

    /// <summary>The last lines the process wrote to stderr.</summary>
    public string StderrTail
    {
        get
        {
            lock (_gate) return string.Join(Environment.NewLine, _stderrTail);
        }
    }

    /// <summary>The stderr tail followed by the last events, for failure messages.</summary>
    public string DiagnosticTail
    {
        get
        {
            lock (_gate)
            {
                var events = _events.Skip(Math.Max(0, _events.Count - DiagnosticEvents)).Select(e => e.GetRawText());
                return string.Join(Environment.NewLine,
                    [.. _stderrTail, $"--- last js events ---", .. events]);
            }
        }
    }

    /// <summary>Starts a peer and waits for its ready line.</summary>
    public static async Task<JsPeer> StartAsync(JsPeerOptions? options, CancellationToken cancellationToken)
    {
        HarnessPaths.EnsureInstalled();
        options ??= new JsPeerOptions();
        var startInfo = new ProcessStartInfo(HarnessPaths.NodeExecutable)
        {
            WorkingDirectory = HarnessPaths.HarnessDirectory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // A BOM before the first command would make it invalid JSON for the harness.
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        startInfo.ArgumentList.Add(HarnessPaths.Script("peer.mjs"));
        foreach (var argument in options.ToArguments()) startInfo.ArgumentList.Add(argument);

        var process = Process.Start(startInfo) ?? throw new InvalidOperationException("could not start the js harness");
        var peer = new JsPeer(process, options);
        peer._stdoutPump = peer.PumpStdoutAsync(peer._lifetime.Token);
        peer._stderrPump = peer.PumpStderrAsync(peer._lifetime.Token);
        try
        {
            var ready = await peer._ready.Task.WaitAsync(options.StartTimeout, cancellationToken);
            peer.PeerId = ready.GetProperty("peerId").GetString() ?? "";
            peer.Addresses = [.. ready.GetProperty("addrs").EnumerateArray().Select(a => a.GetString() ?? "")];
            return peer;
        }
        catch (Exception error) when (error is TimeoutException or JsPeerException)
        {
            var tail = peer.DiagnosticTail;
            await peer.DisposeAsync();
            throw new JsPeerException($"the js peer did not start: {error.Message}", tail, error);
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }
    }

    /// <summary>The first listen address of an address family (<c>/ip4/</c> or <c>/ip6/</c>), with <c>/p2p/</c>.</summary>
    public string AddressFor(string familyPrefix) =>
        Addresses.FirstOrDefault(a => a.StartsWith(familyPrefix, StringComparison.Ordinal))
        ?? throw new InvalidOperationException($"the js peer listens on no {familyPrefix} address: {string.Join(", ", Addresses)}");

    /// <summary>
    /// Sends one command (its fields from <paramref name="arguments"/>, an object serialized camelCase) and returns the
    /// reply; throws <see cref="JsPeerException"/> when js reports an error or no reply arrives in time.
    /// </summary>
    public Task<JsonElement> SendAsync(string command, object? arguments, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return SendCoreAsync(command, arguments, timeout ?? _options.CommandTimeout, cancellationToken);
    }

    /// <summary>Waits for an event (already seen or still to come) named <paramref name="name"/> that matches.</summary>
    public async Task<JsonElement> WaitForEventAsync(string name, Func<JsonElement, bool>? match, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        bool Matches(JsonElement e) => e.GetProperty("event").GetString() == name && (match is null || match(e));
        var done = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        (Func<JsonElement, bool>, TaskCompletionSource<JsonElement>) waiter = (Matches, done);
        lock (_gate)
        {
            foreach (var seen in _events)
                if (Matches(seen)) return seen;
            _eventWaiters.Add(waiter);
        }
        try
        {
            return await done.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException error)
        {
            throw new JsPeerException($"no js event '{name}' within {timeout.TotalSeconds:0.#} s", DiagnosticTail, error);
        }
        finally
        {
            lock (_gate) _eventWaiters.Remove(waiter);
        }
    }

    /// <summary>Stops the peer (gracefully when it still answers) and kills the process tree.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            if (!_process.HasExited && _ready.Task.IsCompletedSuccessfully)
            {
                using var stopDeadline = new CancellationTokenSource(StopTimeout);
                try
                {
                    await SendCoreAsync("stop", null, StopTimeout, stopDeadline.Token);
                    await _process.WaitForExitAsync(stopDeadline.Token);
                }
                catch (Exception error) when (error is JsPeerException or OperationCanceledException or IOException)
                {
                    // It did not stop in time: the kill below ends it.
                }
            }
        }
        finally
        {
            try
            {
                if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited between the check and the kill.
            }
            using (var killDeadline = new CancellationTokenSource(KillTimeout))
            {
                try
                {
                    await _process.WaitForExitAsync(killDeadline.Token);
                }
                catch (OperationCanceledException)
                {
                    // Nothing more can be done for a process that survives SIGKILL.
                }
            }
            await _lifetime.CancelAsync();
            await Task.WhenAll(_stdoutPump, _stderrPump);
            _process.Dispose();
            _lifetime.Dispose();
            _writeLock.Dispose();
        }
    }

    private static JsonSerializerOptions CreateJsonOptions()
    {
        // camelCase names as the harness expects; frozen so the shared instance cannot change.
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    private async Task<JsonElement> SendCoreAsync(string command, object? arguments, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _nextId);
        var request = arguments is null ? new JsonObject() : JsonSerializer.SerializeToNode(arguments, Json)!.AsObject();
        request["id"] = id;
        request["cmd"] = command;
        request["timeoutMs"] = (long)timeout.TotalMilliseconds;
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate) _pending[id] = reply;
        try
        {
            var line = request.ToJsonString(Json);
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                await _process.StandardInput.WriteLineAsync(line.AsMemory(), cancellationToken);
                await _process.StandardInput.FlushAsync(cancellationToken);
            }
            finally
            {
                _writeLock.Release();
            }
            // js enforces the deadline itself; the grace covers its error reply travelling back.
            var result = await reply.Task.WaitAsync(timeout + ReplyGrace, cancellationToken);
            if (result.TryGetProperty("ok", out var ok) && ok.GetBoolean()) return result;
            var message = result.TryGetProperty("error", out var error) ? error.GetString() : result.ToString();
            throw new JsPeerException($"js '{command}' failed: {message}", DiagnosticTail);
        }
        catch (TimeoutException error)
        {
            throw new JsPeerException($"js '{command}' sent no reply within {timeout.TotalSeconds:0.#} s", DiagnosticTail, error);
        }
        catch (IOException error)
        {
            throw new JsPeerException($"could not send '{command}' to the js peer: {error.Message}", DiagnosticTail, error);
        }
        finally
        {
            lock (_gate) _pending.Remove(id);
        }
    }

    private async Task PumpStdoutAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _process.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
                Dispatch(line);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposal.
        }
        finally
        {
            FailEverything("the js peer closed its output (exited?)");
        }
    }

    private async Task PumpStderrAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _process.StandardError.ReadLineAsync(cancellationToken) is { } line)
                RememberStderr(line);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposal.
        }
    }

    private void RememberStderr(string line)
    {
        lock (_gate)
        {
            _stderrTail.Enqueue(line);
            while (_stderrTail.Count > StderrTailLines) _stderrTail.Dequeue();
        }
    }

    private void Dispatch(string line)
    {
        JsonElement message;
        try
        {
            using var document = JsonDocument.Parse(line);
            message = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            RememberStderr($"(stdout, not JSON) {line}");
            return;
        }
        if (message.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.Number)
        {
            TaskCompletionSource<JsonElement>? reply;
            lock (_gate) _pending.TryGetValue(id.GetInt64(), out reply);
            reply?.TrySetResult(message);
            return;
        }
        if (!message.TryGetProperty("event", out var name)) return;
        if (name.GetString() == "ready") _ready.TrySetResult(message);
        if (name.GetString() == "fatal")
            _ready.TrySetException(new JsPeerException($"js fatal error: {message}", StderrTail));
        List<TaskCompletionSource<JsonElement>> woken = [];
        lock (_gate)
        {
            if (_events.Count >= MaxEvents) _events.RemoveAt(0);
            _events.Add(message);
            foreach (var (match, done) in _eventWaiters)
                if (match(message)) woken.Add(done);
        }
        foreach (var done in woken) done.TrySetResult(message);
    }

    private void FailEverything(string reason)
    {
        List<TaskCompletionSource<JsonElement>> waiting;
        lock (_gate) waiting = [.. _pending.Values, .. _eventWaiters.Select(w => w.Done)];
        var error = new JsPeerException(reason, DiagnosticTail);
        _ready.TrySetException(error);
        foreach (var tcs in waiting) tcs.TrySetException(error);
    }
}
