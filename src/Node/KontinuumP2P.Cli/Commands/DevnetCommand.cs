using System.CommandLine;
using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Devnet;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum devnet</c>: a local Kontinuum network on loopback, the main job of a new user.</summary>
internal static class DevnetCommand
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Certified nodes to start (2-64)", DefaultValueFactory = _ => 5 };
        var directory = new Option<string?>("--dir") { Description = "Folder for the genesis and node state, kept after the run (default: a temporary folder removed at exit)" };
        var duration = new Option<double?>("--duration") { Description = "Seconds to run (default: until Ctrl+C)" };
        var interval = new Option<double>("--interval") { Description = "Seconds between lookup rounds", DefaultValueFactory = _ => 10 };
        var json = new Option<bool>("--json") { Description = "Print one JSON status object per round" };
        var chaos = new Option<bool>("--chaos")
        {
            Description = "Start HQ first, stop one mailbox node abruptly after the first rounds and show its replacement (scaled-down thresholds); ends once the demo group is back on 3 mailboxes",
        };
        var chaosAfter = new Option<double?>("--chaos-after") { Description = "With --chaos: seconds of rounds before the mailbox is stopped (default: after 2 rounds)" };
        var command = new Command("devnet", "Run a local Kontinuum network: genesis, certified nodes, DHT, node records, a CRL, lookups")
        {
            nodes, directory, duration, interval, json, chaos, chaosAfter,
        };
        command.Subcommands.Add(DevnetInitCommand.Create());
        command.SetAction((parseResult, cancellationToken) => parseResult.GetValue(chaos)
            ? RunChaosAsync(parseResult, parseResult.GetValue(nodes), parseResult.GetValue(directory), parseResult.GetValue(duration),
                parseResult.GetValue(interval), parseResult.GetValue(chaosAfter), parseResult.GetValue(json), cancellationToken)
            : RunAsync(parseResult, parseResult.GetValue(nodes),
            parseResult.GetValue(directory), parseResult.GetValue(duration), parseResult.GetValue(interval), parseResult.GetValue(json),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunChaosAsync(ParseResult parseResult, int nodes, string? directory, double? durationSeconds,
        double intervalSeconds, double? chaosAfter, bool json, CancellationToken cancellationToken)
    {
        if (durationSeconds is <= 0) return CliOutput.Fail(parseResult, "--duration: must be a positive number of seconds", ExitCodes.InvalidInput);
        if (intervalSeconds is <= 0 or > 3600) return CliOutput.Fail(parseResult, "--interval: must be between 0 and 3600 seconds", ExitCodes.InvalidInput);
        if (chaosAfter is < 0 or > 86400) return CliOutput.Fail(parseResult, "--chaos-after: must be between 0 and 86400 seconds", ExitCodes.InvalidInput);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (durationSeconds is { } seconds) stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        return await DevnetChaos.RunAsync(parseResult, nodes, directory, intervalSeconds, chaosAfter, json, stop.Token).ConfigureAwait(false);
    }

    private static async Task<int> RunAsync(ParseResult parseResult, int nodes, string? directory, double? durationSeconds,
        double intervalSeconds, bool json, CancellationToken cancellationToken)
    {
        if (durationSeconds is <= 0) return CliOutput.Fail(parseResult, "--duration: must be a positive number of seconds", ExitCodes.InvalidInput);
        if (intervalSeconds is <= 0 or > 3600) return CliOutput.Fail(parseResult, "--interval: must be between 0 and 3600 seconds", ExitCodes.InvalidInput);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (durationSeconds is { } seconds) stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        DevnetRunner devnet;
        try
        {
            devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = nodes, Directory = directory }, stop.Token).ConfigureAwait(false);
        }
        catch (ValidationException e)
        {
            return CliOutput.Fail(parseResult, $"--nodes: {e.Message}", ExitCodes.InvalidInput);
        }
        catch (OperationCanceledException)
        {
            return CliOutput.Fail(parseResult, "stopped before the devnet was up");
        }
        await using (devnet.ConfigureAwait(false))
        {
            if (!json) CliOutput.WriteLine(parseResult, $"devnet of {nodes} nodes up; genesis and state in {devnet.Directory}");
            try
            {
                // HQ joins the devnet through the same composition; it publishes a /slot/ record per mailbox node.
                await using var hq = await DevnetHq.StartAsync(devnet, stop.Token).ConfigureAwait(false);
                while (!stop.IsCancellationRequested)
                {
                    var status = await devnet.RunLookupRoundAsync(stop.Token).ConfigureAwait(false);
                    if (json)
                    {
                        var line = JsonSerializer.SerializeToNode(status, Json)!.AsObject();
                        line["hq"] = hq.ToJson();
                        CliOutput.WriteJsonLine(parseResult, line);
                    }
                    else CliOutput.WriteLine(parseResult, StatusTable.Render(status) + "\n" + hq.Render());
                    await Task.Delay(TimeSpan.FromSeconds(intervalSeconds), stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C or --duration: a normal way to stop.
            }
        }
        return ExitCodes.Success;
    }
}

/// <summary>The devnet status as a plain text table.</summary>
internal static class StatusTable
{
    /// <summary>Renders one status snapshot.</summary>
    public static string Render(DevnetStatus status)
    {
        var lines = new List<string>
        {
            $"[{status.ElapsedSeconds,6:0.0}s] {status.Network}: {status.Lookups - status.LookupFailures}/{status.Lookups} record lookups ok, median {status.LookupMsMedian:0.0} ms",
            $"  {"#",2}  {"peer id",-52}  {"table",5}  {"resolved",8}  {"crl",4}  address",
        };
        foreach (var n in status.Nodes)
            lines.Add($"  {n.Index,2}  {n.PeerId,-52}  {n.RoutingTable,5}  {n.Resolved,4}/{n.Others,-3}  {n.CrlNumber,3}{(n.CrlStale ? "!" : " ")}  {n.Address}");
        if (status.Mailboxes.Count > 0)
        {
            lines.Add($"  mailboxes  {"#",2}  {"provider",-10}  {"groups",6}  {"blobs",7}  {"pushes/s",8}");
            foreach (var m in status.Mailboxes) lines.Add($"             {m.Index,2}  {m.Provider,-10}  {m.Groups,6}  {m.Blobs,7}  {m.PushesPerSecond,8:0.0}");
        }
        if (status.Group is { } group)
            lines.Add($"  demo group: {group.Pushed} pushed, {group.Applied} applied, {group.Pending} pending, {group.Outbox} in outboxes (try: kontinuum mailbox status --group {group.Directory})");
        if (status.Archive is { } archive)
            lines.Add($"  archive on node {archive.Index}: {archive.Packs} packs, {archive.Blobs} blobs, archived_up_to {archive.ArchivedUpTo}, lag {archive.Lag} blobs" +
                $"{(archive.SinceLastPack is { } since ? $", last pack {since.TotalSeconds:0}s ago" : "")} (try: kontinuum archive verify --sink dir:{archive.Sink})");
        if (status.Holders.Count > 0)
        {
            lines.Add($"  holders    {"#",2}  {"provider",-10}  {"KiB held",9}   (peers sink: each pack on 3 providers, or as many as there are)");
            foreach (var h in status.Holders) lines.Add($"             {h.Index,2}  {h.Provider,-10}  {h.Bytes / 1024.0,9:0.0}");
        }
        return string.Join('\n', lines);
    }
}
