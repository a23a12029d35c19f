using System.CommandLine;
using KontinuumP2P.Cli.Commands;

var root = new RootCommand("kontinuum — KontinuumP2P node, DHT, trust and network tools");
// One line per command group; each group lives in Commands/<Group>Commands.cs.
foreach (var command in CommandGroups.All()) root.Subcommands.Add(command);
return await root.Parse(args).InvokeAsync();
