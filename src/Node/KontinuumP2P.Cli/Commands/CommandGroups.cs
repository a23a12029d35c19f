using System.CommandLine;

namespace KontinuumP2P.Cli.Commands;

/// <summary>The command groups of the <c>kontinuum</c> executable.</summary>
internal static class CommandGroups
{
    /// <summary>Every top-level command, in help order. Add one line per group.</summary>
    public static IEnumerable<Command> All()
    {
        yield break;
    }
}
