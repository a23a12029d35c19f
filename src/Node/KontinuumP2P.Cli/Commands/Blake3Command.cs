using System.CommandLine;
using KontinuumP2P.Certs.Hashing;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum blake3 FILE...</c>: BLAKE3 checksums in exactly the format of <c>b3sum</c>.</summary>
internal static class Blake3Command
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var files = new Argument<string[]>("FILE")
        {
            Description = "Files to hash; '-' or none reads standard input",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("blake3", "Print BLAKE3 checksums like b3sum (one core, streamed)");
        command.Arguments.Add(files);
        command.SetAction((parseResult, cancellationToken) => Blake3Sum.WriteChecksumsAsync(
            parseResult.GetValue(files) ?? [], Console.OpenStandardInput, Console.Out, Console.Error,
            "kontinuum blake3", cancellationToken));
        return command;
    }
}
