using System.CommandLine;
using System.Text;

namespace KontinuumP2P.Cli.Tests;

/// <summary>A thread-safe writer that also reports its first complete line.</summary>
internal sealed class LineWriter : TextWriter
{
    private readonly StringBuilder _text = new();
    private readonly TaskCompletionSource<string> _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override Encoding Encoding => Encoding.UTF8;

    public Task<string> FirstLine => _firstLine.Task;

    public string Text
    {
        get
        {
            lock (_text) return _text.ToString();
        }
    }

    /// <summary>Runs one command group in-process with captured output, as the executable would.</summary>
    public static Task<int> InvokeAsync(Command group, string[] args, TextWriter output, TextWriter error, CancellationToken ct)
    {
        var root = new RootCommand { group };
        return root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, ct);
    }

    public override void Write(char value)
    {
        lock (_text)
        {
            _text.Append(value);
            if (value == '\n' && !_firstLine.Task.IsCompleted) _firstLine.TrySetResult(_text.ToString().TrimEnd());
        }
    }
}
