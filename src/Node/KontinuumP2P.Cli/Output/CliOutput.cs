using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KontinuumP2P.Cli.Output;

/// <summary>Exit codes shared by the commands.</summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Success = 0;

    /// <summary>The operation failed (unreachable peer, timeout, I/O error).</summary>
    public const int Failure = 1;

    /// <summary>An argument or option value is invalid; the message names it.</summary>
    public const int InvalidInput = 2;
}

/// <summary>
/// Console output through the invocation's writers (so tests can capture it): one compact JSON object per line for
/// <c>--json</c>, and error messages on the error writer with a non-zero exit code.
/// </summary>
internal static class CliOutput
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    /// <summary>Writes <paramref name="value"/> as one JSON line and flushes, so readers of a long-running command see it at once.</summary>
    public static void WriteJsonLine(ParseResult parseResult, JsonNode value)
    {
        var output = parseResult.InvocationConfiguration.Output;
        output.WriteLine(value.ToJsonString(Compact));
        output.Flush();
    }

    /// <summary>Writes a line of human-readable text and flushes.</summary>
    public static void WriteLine(ParseResult parseResult, string text)
    {
        var output = parseResult.InvocationConfiguration.Output;
        output.WriteLine(text);
        output.Flush();
    }

    /// <summary>Writes <c>error: message</c> to the error writer and returns <paramref name="exitCode"/>.</summary>
    public static int Fail(ParseResult parseResult, string message, int exitCode = ExitCodes.Failure)
    {
        var error = parseResult.InvocationConfiguration.Error;
        error.WriteLine($"error: {message}");
        error.Flush();
        return exitCode;
    }

    /// <summary>A JSON array of strings.</summary>
    public static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);
}
