using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Mailbox.Client;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum group device|remove-device|close-old</c>: naming and removing devices, closing rotated-out mailboxes.</summary>
internal static class GroupDeviceCommands
{
    public static void AddTo(Command group)
    {
        group.Subcommands.Add(CreateDevice());
        group.Subcommands.Add(CreateRemoveDevice());
        group.Subcommands.Add(CreateCloseOld());
    }

    public static JsonArray Closures(IReadOnlyList<MailboxClosure> closures) =>
        [.. closures.Select(c => (JsonNode)new JsonObject { ["generation"] = c.Generation, ["slot"] = c.Slot, ["closed"] = c.Closed, ["error"] = c.Error })];

    private static Option<string> DirOption() => new("--dir") { Description = "The group directory (this device's keys, outbox, cursors)", Required = true };

    private static Option<bool> JsonOption() => new("--json") { Description = "Print JSON only" };

    private static Command CreateDevice()
    {
        var dir = DirOption();
        var json = JsonOption();
        var command = new Command("device", "Print this device's reference (its id at each mailbox): what another device removes it by") { dir, json };
        command.SetAction(parseResult =>
        {
            var directory = parseResult.GetValue(dir)!;
            try
            {
                using var store = GroupStore.Open(directory);
                Print(parseResult, parseResult.GetValue(json), new JsonObject
                {
                    ["group"] = store.GroupLabel,
                    ["device"] = store.DeviceLabel,
                    ["generation"] = store.Current.Number,
                    ["device_ref"] = DeviceReference.Of(store).ToString(),
                });
                return ExitCodes.Success;
            }
            catch (FileNotFoundException e)
            {
                return CliOutput.Fail(parseResult, $"--dir: {e.Message}", ExitCodes.InvalidInput);
            }
        });
        return command;
    }

    private static Command CreateRemoveDevice()
    {
        var reference = new Argument<string>("DEVICE") { Description = "The device reference (slot=hex,...) as `group device` printed it" };
        var dir = DirOption();
        var json = JsonOption();
        var command = new Command("remove-device",
            "Remove a device from the group's mailboxes: it stops holding back retention and is refused. A stolen device still knows the secret: rotate too")
            { reference, dir, json };
        command.SetAction((parseResult, cancellationToken) =>
        {
            DeviceReference device;
            try
            {
                device = DeviceReference.Parse(parseResult.GetValue(reference)!);
            }
            catch (FormatException e)
            {
                return Task.FromResult(CliOutput.Fail(parseResult, $"DEVICE: {e.Message}", ExitCodes.InvalidInput));
            }
            return GroupConnection.RunAsync(parseResult, parseResult.GetValue(dir)!, async (client, ct) =>
            {
                var results = await client.RemoveDeviceAsync(device, ct).ConfigureAwait(false);
                Print(parseResult, parseResult.GetValue(json), new JsonObject
                {
                    ["device_ref"] = device.ToString(),
                    ["mailboxes"] = new JsonArray([.. results.Select(r => (JsonNode)new JsonObject
                    {
                        ["slot"] = r.Slot, ["removed"] = r.Removed, ["devices"] = r.Devices, ["error"] = r.Error,
                    })]),
                });
                return results.All(r => r.Error is null) ? ExitCodes.Success : ExitCodes.Failure;
            }, cancellationToken);
        });
        return command;
    }

    private static Command CreateCloseOld()
    {
        var dir = DirOption();
        var json = JsonOption();
        var command = new Command("close-old", "Close the mailboxes of generations before the current one (after a rotation whose outbox has drained)") { dir, json };
        command.SetAction((parseResult, cancellationToken) => GroupConnection.RunAsync(parseResult, parseResult.GetValue(dir)!, async (client, ct) =>
        {
            var flushed = await client.FlushAsync(all: true, ct).ConfigureAwait(false);
            if (flushed.Remaining > 0)
                return CliOutput.Fail(parseResult, $"the outbox still owes {flushed.Remaining} blobs to the new mailboxes; the old ones stay open");
            var closed = await client.CloseOldMailboxesAsync(ct).ConfigureAwait(false);
            Print(parseResult, parseResult.GetValue(json), new JsonObject { ["closed"] = Closures(closed) });
            return closed.All(c => c.Closed) ? ExitCodes.Success : ExitCodes.Failure;
        }, cancellationToken));
        return command;
    }

    private static void Print(ParseResult parseResult, bool json, JsonObject value)
    {
        if (json) CliOutput.WriteJsonLine(parseResult, value);
        else foreach (var (key, node) in value) CliOutput.WriteLine(parseResult, $"{key}: {node?.ToJsonString() ?? "null"}");
    }
}
