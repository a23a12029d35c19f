using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Configuration;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// <c>kontinuum devnet init</c>: writes a devnet for separate <c>node run</c> processes (genesis, the 1-of-1 anchor's
/// key and anchors file, a certified node folder per node with fixed loopback ports).
/// </summary>
internal static class DevnetInitCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var directory = new Option<string>("--dir") { Description = "Folder to write (must not hold a devnet yet)", Required = true };
        var nodes = new Option<int>("--nodes") { Description = $"Node folders to write (1-{DevnetLayout.MaxNodes})", DefaultValueFactory = _ => 5 };
        var basePort = new Option<int>("--base-port") { Description = "Node i listens on base + 2i and serves metrics on base + 2i + 1", DefaultValueFactory = _ => 4100 };
        var days = new Option<int>("--valid-days") { Description = "Certificate validity in days", DefaultValueFactory = _ => 30 };
        var json = TrustCli.JsonOption();
        var command = new Command("init", "Write a devnet (genesis, authority key, certified node folders) to run as separate `node run` processes")
        {
            directory, nodes, basePort, days, json,
        };
        command.SetAction(pr => TrustCli.Run(pr, () =>
        {
            if (pr.GetValue(days) is < 1 or > 3650) throw new ArgumentException($"--valid-days: {pr.GetValue(days)} is not between 1 and 3650");
            var files = DevnetLayout.Write(pr.GetValue(directory)!, pr.GetValue(nodes), pr.GetValue(basePort), TimeSpan.FromDays(pr.GetValue(days)), TimeProvider.System);
            var nodeList = new JsonArray([.. files.Nodes.Select(n => (JsonNode?)new JsonObject
            {
                ["index"] = n.Index,
                ["peerId"] = n.PeerId,
                ["config"] = n.ConfigPath,
                ["listenAddr"] = n.ListenAddress,
                ["metrics"] = n.MetricsAddress,
            })]);
            TrustCli.Report(pr, pr.GetValue(json), new JsonObject
            {
                ["genesis"] = files.Genesis,
                ["anchors"] = files.AnchorsFile,
                ["anchorKey"] = files.AnchorKeyFile,
                ["firstCrl"] = files.FirstCrlFile,
                ["nodes"] = nodeList,
            }, $"""
                devnet written: genesis {files.Genesis}
                authority key   {files.AnchorKeyFile} (plain, mode 0600: for `cert issue --key` and `crl sign --key`)
                anchors file    {files.AnchorsFile} (for `crl assemble --anchors`)
                {string.Join('\n', files.Nodes.Select(n => $"node {n.Index}  {n.PeerId}  {n.ListenAddress}  metrics {n.MetricsAddress}"))}
                start each node with: kontinuum node run --config {files.Nodes[0].ConfigPath.Replace("node-0", "node-<i>", StringComparison.Ordinal)}
                then publish the first CRL (until then nodes report their CRL as stale):
                  kontinuum crl publish {files.FirstCrlFile} --network {files.Genesis} --bootstrap {files.Nodes[0].ListenAddress}
                """);
        }));
        return command;
    }
}
