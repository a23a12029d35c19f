using System.CommandLine;

namespace KontinuumP2P.Cli.Commands;

/// <summary>The command groups of the <c>kontinuum</c> executable.</summary>
internal static class CommandGroups
{
    /// <summary>Every top-level command, in help order. Add one line per group.</summary>
    public static IEnumerable<Command> All()
    {
        yield return DevnetCommand.Create();
        yield return Blake3Command.Create();
        yield return NodeIdentityCommands.Create();
        yield return Tier0Commands.Create();
        yield return CertCommands.Create();
        yield return CrlCommands.Create();
        yield return PeerCommands.Create();
        yield return DhtCommands.Create();
        yield return HqCommands.Create();
        yield return ArchiveCommands.Create();
        yield return GroupCommands.Create();
        yield return MailboxCommands.Create();
        yield return ContentCommands.Create();
        yield break;
    }
}
