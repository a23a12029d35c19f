using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;

namespace KontinuumP2P.Net.Tests.Discovery;

/// <summary>Collects the JSON lines a child process prints and waits for particular ones.</summary>
internal sealed class JsonLineProcess
{
    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly List<JsonElement> _lines = [];
    private readonly List<string> _errors = [];
    private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public JsonLineProcess(Process process, string name)
    {
        _process = process;
        Name = name;
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_gate) if (_errors.Count < 200) _errors.Add(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public IReadOnlyList<JsonElement> Lines
    {
        get
        {
            lock (_gate) return [.. _lines];
        }
    }

    public string Diagnostics
    {
        get
        {
            lock (_gate) return $"{Name} stdout:\n{string.Join("\n", _lines)}\n{Name} stderr (last lines):\n{string.Join("\n", _errors.TakeLast(20))}";
        }
    }

    public async Task SendAsync(string line) => await _process.StandardInput.WriteLineAsync(line);

    /// <summary>The first line (already seen or future) that <paramref name="match"/> accepts, within <paramref name="timeout"/>.</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            lock (_gate)
            {
                foreach (var line in _lines)
                {
                    if (match(line)) return line;
                }
            }
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero || _process.HasExited && clock.Elapsed > TimeSpan.FromSeconds(1))
                Assert.Fail($"{Name}: expected line not seen within {timeout.TotalSeconds} s\n{Diagnostics}");
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
            try
            {
                await _changed.Reader.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // re-check
            }
        }
    }

    private void Add(string? line)
    {
        if (string.IsNullOrWhiteSpace(line)) return;
        JsonElement element;
        try
        {
            element = JsonDocument.Parse(line).RootElement.Clone();
        }
        catch (JsonException)
        {
            return; // not a protocol line
        }
        lock (_gate) if (_lines.Count < 10_000) _lines.Add(element);
        _changed.Writer.TryWrite(true);
    }
}
