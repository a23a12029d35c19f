using System.CommandLine;
using KontinuumP2P.Cli.Commands;

var root = new RootCommand("kontinuum — KontinuumP2P node, DHT, trust and network tools");
// One line per command group; each group lives in Commands/<Group>Commands.cs.
foreach (var command in CommandGroups.All()) root.Subcommands.Add(command);
// SIGTERM cancels the running command; a node needs more than the default 2 s to save its snapshot on a busy machine.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(15) });
