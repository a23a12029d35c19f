using System.CommandLine;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// Logging (debug on stderr with <c>--verbose</c>) and metrics for the commands that run a host or a node, handed to
/// the node's composition so every part of a CLI host logs and counts like a node's.
/// </summary>
internal sealed class CliServices : IDisposable
{
    private readonly ILoggerFactory _loggers;
    private readonly NodeMeterFactory _meters = new();

    public CliServices(bool verbose) =>
        _loggers = verbose
            ? LoggerFactory.Create(logging => logging
                .SetMinimumLevel(LogLevel.Debug)
                .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace))
            : NullLoggerFactory.Instance;

    public ILoggerFactory Loggers => _loggers;

    public NodeServices Node => new(TimeProvider.System, _loggers, _meters);

    public static Option<bool> VerboseOption() => new("--verbose", "-v") { Description = "Debug logs on stderr" };

    /// <summary>A builder for <paramref name="options"/> with these services.</summary>
    public KontinuumNodeBuilder Builder(KontinuumNodeOptions options) =>
        new KontinuumNodeBuilder(options).UseLoggerFactory(_loggers).UseMeterFactory(_meters);

    public void Dispose()
    {
        _loggers.Dispose();
        _meters.Dispose();
    }
}
