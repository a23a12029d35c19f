using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// <c>kontinuum devnet --chaos</c>: HQ first, then the devnet with every mailbox alerting HQ and the demo group on slots;
/// after the first rounds one mailbox node (<c>mbx-b</c>) is stopped abruptly, and every round shows the way back:
/// device reports, HQ's level of the dead slot, the spare started, the slot record's new node and sequence, and whether
/// the demo group is on 3 mailboxes again with nothing lost. The run ends one round after that (exit 0), or at
/// <c>--duration</c> without recovery (exit 1).
/// </summary>
internal static class DevnetChaos
{
    private const int VictimIndex = 1;
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static async Task<int> RunAsync(ParseResult parseResult, int nodes, string? directory, double intervalSeconds, double? chaosAfter,
        bool json, CancellationToken stop)
    {
        if (nodes < 5) return CliOutput.Fail(parseResult, "--chaos: needs at least 5 nodes (3 mailboxes and the 2 demo devices)", ExitCodes.InvalidInput);
        DevnetChaosHq? hq = null;
        DevnetRunner? devnet = null;
        try
        {
            hq = await DevnetChaosHq.StartAsync(directory, stop).ConfigureAwait(false);
            devnet = await DevnetRunner.StartAsync(new DevnetOptions
            {
                Nodes = nodes,
                Directory = directory,
                Authority = hq.Authority,
                BootstrapPeers = [hq.Address],
                MailboxHealth = hq.MailboxHealth,
                GroupUsesSlots = true,
            }, stop).ConfigureAwait(false);
            var spare = await hq.RegisterAsync(devnet, stop).ConfigureAwait(false);
            var progress = new ChaosProgress(DevnetChaosHq.DevnetSlot(VictimIndex), devnet.Nodes[VictimIndex].PeerId, spare);
            foreach (var loop in devnet.StartDemoHealthLoops(DevnetChaosHq.DeviceHealth))
            {
                loop.RoundCompleted += r => progress.AddReports(r.Reports);
                loop.Reseeded += n => progress.AddReseeded(n);
            }
            if (!json)
            {
                CliOutput.WriteLine(parseResult, $"devnet of {nodes} nodes up, HQ {hq.PeerId} started first; genesis and state in {devnet.Directory}");
                CliOutput.WriteLine(parseResult, $"chaos: {DevnetChaosHq.Thresholds}");
                CliOutput.WriteLine(parseResult, $"chaos: spare {spare} pre-certified on {DevnetChaosHq.SpareProvider}; {progress.Slot} ({progress.Victim}) is stopped " +
                    (chaosAfter is { } s ? $"after {s:0.#} s" : "after 2 rounds") + " by disposing its node without a goodbye (the in-process kill -9)");
            }
            var started = DateTimeOffset.UtcNow;
            var rounds = 0;
            while (!stop.IsCancellationRequested)
            {
                var status = await devnet.RunLookupRoundAsync(stop).ConfigureAwait(false);
                rounds++;
                var probes = progress.Killed ? await devnet.DemoMailboxStatusAsync(stop).ConfigureAwait(false) : [];
                if (progress.Killed)
                {
                    // Where the slot points now (the spare once moved): every pushed blob id must be there.
                    var (pushedIds, missing) = await devnet.DemoBlobsMissingAtAsync(PeerId.Parse(progress.Spare), progress.Slot, stop).ConfigureAwait(false);
                    progress.ObserveIds(pushedIds, missing);
                }
                progress.Observe(hq.Events, status, probes);
                if (json)
                {
                    var line = JsonSerializer.SerializeToNode(status, Json)!.AsObject();
                    line["hq"] = HqJson(hq);
                    line["chaos"] = progress.ToJson();
                    CliOutput.WriteJsonLine(parseResult, line);
                }
                else CliOutput.WriteLine(parseResult, StatusTable.Render(status) + "\n" + HqText(hq) + "\n" + progress.Render());
                if (progress.Recovered) return ExitCodes.Success;
                if (!progress.Killed && (chaosAfter is { } after ? (DateTimeOffset.UtcNow - started).TotalSeconds >= after : rounds >= 2))
                {
                    await devnet.StopNodeAsync(progress.Victim, stop).ConfigureAwait(false);
                    progress.MarkKilled(status.Group?.Pushed ?? 0);
                    if (!json) CliOutput.WriteLine(parseResult, $"chaos: stopped {progress.Slot} ({progress.Victim}) abruptly");
                }
                await Task.Delay(TimeSpan.FromSeconds(intervalSeconds), stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // --duration or Ctrl+C before the group was back on 3 mailboxes.
        }
        catch (System.ComponentModel.DataAnnotations.ValidationException e)
        {
            return CliOutput.Fail(parseResult, $"--nodes: {e.Message}", ExitCodes.InvalidInput);
        }
        finally
        {
            // HQ's node first: its loop may be starting the spare in the devnet, and stopping it waits for that start.
            // The keys (the spare's, Tier 0's) go last, after every node that uses them.
            if (hq is not null) await hq.StopNodeAsync().ConfigureAwait(false);
            if (devnet is not null) await devnet.DisposeAsync().ConfigureAwait(false);
            if (hq is not null) await hq.DisposeAsync().ConfigureAwait(false);
        }
        return CliOutput.Fail(parseResult, "chaos: stopped before the demo group was back on 3 mailboxes with every blob");
    }

    private static string HqText(DevnetChaosHq hq)
    {
        var status = hq.Service.Status();
        var lines = new List<string> { $"  hq {hq.PeerId}: {(status.Incidents.Count == 0 ? "no provider incidents" : "incidents: " + string.Join(", ", status.Incidents))}" };
        foreach (var m in status.Mailboxes) lines.Add($"     {m.Slot,-6}  {m.Provider,-10}  {m.State,-8}  {m.PeerId}");
        return string.Join('\n', lines);
    }

    private static JsonObject HqJson(DevnetChaosHq hq)
    {
        var status = hq.Service.Status();
        return new JsonObject
        {
            ["peerId"] = hq.PeerId.ToString(),
            ["incidents"] = new JsonArray([.. status.Incidents.Select(i => (JsonNode)i)]),
            ["slots"] = new JsonArray([.. status.Mailboxes.Select(m => (JsonNode)new JsonObject
            {
                ["slot"] = m.Slot,
                ["provider"] = m.Provider,
                ["state"] = m.State,
                ["peerId"] = m.PeerId,
            })]),
        };
    }
}
