using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum mailbox push|pull|watch|status|flush</c> for one group directory (design §6, §7).</summary>
internal static class MailboxCommands
{
    public static Command Create()
    {
        var mailbox = new Command("mailbox", "Push, pull and watch a group's end-to-end encrypted mailboxes");
        mailbox.Subcommands.Add(CreatePush());
        mailbox.Subcommands.Add(CreatePull(watch: false));
        mailbox.Subcommands.Add(CreatePull(watch: true));
        mailbox.Subcommands.Add(CreateStatus());
        mailbox.Subcommands.Add(CreateFlush());
        return mailbox;
    }

    /// <summary>Writes each applied blob's plaintext to <c>DIR/&lt;blobId&gt;</c> (atomically: a rename after the write).</summary>
    public static BlobHandler WriteTo(string directory) => async (blob, cancellationToken) =>
    {
        var path = Path.Combine(directory, blob.Id.ToString());
        var temporary = path + ".partial";
        await File.WriteAllBytesAsync(temporary, blob.Plaintext.ToArray(), cancellationToken).ConfigureAwait(false);
        File.Move(temporary, path, overwrite: true);
    };

    private static Option<string> GroupOption() => new("--group") { Description = "The group directory", Required = true };

    private static Option<bool> JsonOption() => new("--json") { Description = "Print JSON only" };

    private static Command CreatePush()
    {
        var files = new Argument<FileInfo[]>("FILE") { Description = "Files to push (each at most 1 MiB)", Arity = ArgumentArity.OneOrMore };
        var group = GroupOption();
        var acks = new Option<int?>("--required-acks") { Description = "Acknowledgements each push needs (default: the group's setting)" };
        var json = JsonOption();
        var command = new Command("push", "Encrypt each file once and push it to every mailbox of the group") { files, group, acks, json };
        command.SetAction((parseResult, cancellationToken) =>
        {
            var inputs = parseResult.GetValue(files)!;
            foreach (var file in inputs)
            {
                if (!file.Exists) return Task.FromResult(CliOutput.Fail(parseResult, $"FILE: {file.FullName} does not exist", ExitCodes.InvalidInput));
                if (file.Length > BlobPadding.MaxPlaintextLength)
                    return Task.FromResult(CliOutput.Fail(parseResult, $"FILE: {file.FullName} is {file.Length} bytes; a blob holds at most {BlobPadding.MaxPlaintextLength}", ExitCodes.InvalidInput));
            }
            var required = parseResult.GetValue(acks);
            if (required is < 1 or > 3) return Task.FromResult(CliOutput.Fail(parseResult, "--required-acks: must be 1..3", ExitCodes.InvalidInput));
            return GroupConnection.RunAsync(parseResult, parseResult.GetValue(group)!, async (client, ct) =>
            {
                var allDurable = true;
                foreach (var file in inputs)
                {
                    var bytes = await File.ReadAllBytesAsync(file.FullName, ct).ConfigureAwait(false);
                    var outcome = await client.PushAsync(bytes, ct).ConfigureAwait(false);
                    allDurable &= outcome.Durable;
                    var line = new JsonObject
                    {
                        ["blobId"] = outcome.Id.ToString(),
                        ["bytes"] = outcome.Bytes,
                        ["acked"] = new JsonArray([.. outcome.Acked.Select(a => (JsonNode)new JsonObject { ["mailbox"] = a.Slot, ["cursor"] = a.Cursor })]),
                        ["queued"] = CliOutput.Strings(outcome.Queued),
                    };
                    if (parseResult.GetValue(json)) CliOutput.WriteJsonLine(parseResult, line);
                    else CliOutput.WriteLine(parseResult, $"{outcome.Id} {outcome.Bytes} B acked by {string.Join(", ", outcome.Acked.Select(a => $"{a.Slot}@{a.Cursor}"))}"
                        + (outcome.Queued.Count > 0 ? $"; queued for {string.Join(", ", outcome.Queued)}" : ""));
                }
                if (!allDurable) return CliOutput.Fail(parseResult, $"fewer than {client.RequiredAcks} mailboxes acknowledged; the blobs stay in the outbox (`kontinuum mailbox flush`)");
                return ExitCodes.Success;
            }, cancellationToken, required);
        });
        return command;
    }

    private static Command CreatePull(bool watch)
    {
        var group = GroupOption();
        var output = new Option<string>("--out") { Description = "Folder for the plaintext of applied blobs (default GROUPDIR/received)" };
        var noAck = new Option<bool>("--no-ack") { Description = "Do not acknowledge to the mailboxes (they keep counting this device as behind)" };
        var duration = new Option<double?>("--duration") { Description = "Seconds to watch (default: until Ctrl+C)" };
        var serve = new Option<bool?>("--serve-content")
        {
            Description = "Also serve this device's own contents while watching, as `content serve` does (default: when `content serve` was set up in "
                + "GROUPDIR and no other process serves them; true: set serving up and fail if another process serves them; false: never)",
        };
        var rescan = new Option<TimeSpan>("--rescan") { Description = "While serving: how often to look for contents put since (default 00:00:02)", DefaultValueFactory = _ => TimeSpan.FromSeconds(2) };
        var json = JsonOption();
        var command = watch
            ? new Command("watch", "Apply blobs as they arrive (subscribes to every mailbox); serves this device's own contents meanwhile") { group, output, noAck, duration, serve, rescan, json }
            : new Command("pull", "Apply every new blob from the group's mailboxes") { group, output, noAck, json };
        command.SetAction((parseResult, cancellationToken) =>
        {
            var directory = parseResult.GetValue(group)!;
            var outDir = parseResult.GetValue(output) ?? Path.Combine(directory, "received");
            var asJson = parseResult.GetValue(json);
            var ack = !parseResult.GetValue(noAck);
            if (watch && parseResult.GetValue(duration) is <= 0) return Task.FromResult(CliOutput.Fail(parseResult, "--duration: must be positive", ExitCodes.InvalidInput));
            if (watch && parseResult.GetValue(rescan) is var interval && (interval < TimeSpan.FromMilliseconds(100) || interval > TimeSpan.FromHours(1)))
                return Task.FromResult(CliOutput.Fail(parseResult, "--rescan: between 00:00:00.1 and 01:00:00", ExitCodes.InvalidInput));
            Func<GroupClient, CancellationToken, Task<int>> body = async (client, ct) =>
            {
                Directory.CreateDirectory(outDir);
                var write = WriteTo(outDir);
                BlobHandler apply = async (blob, token) =>
                {
                    await write(blob, token).ConfigureAwait(false);
                    var line = new JsonObject { ["blobId"] = blob.Id.ToString(), ["bytes"] = blob.Plaintext.Length, ["mailbox"] = blob.Slot };
                    if (asJson) CliOutput.WriteJsonLine(parseResult, line);
                    else CliOutput.WriteLine(parseResult, $"{blob.Id} {blob.Plaintext.Length} B from {blob.Slot}");
                };
                if (!watch)
                {
                    var outcome = await client.PullAsync(apply, ack, ct).ConfigureAwait(false);
                    WriteSummary(parseResult, asJson, outcome);
                    return outcome.Unreachable.Count == client.Store.Current.Slots.Count
                        ? CliOutput.Fail(parseResult, "no mailbox of the group is reachable")
                        : ExitCodes.Success;
                }
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
                if (parseResult.GetValue(duration) is { } seconds) limit.CancelAfter(TimeSpan.FromSeconds(seconds));
                // A watching device also reports unreachable mailboxes and re-seeds replacements (design §7.1 layer 1).
                await using var health = client.StartHealthLoop(new GroupHealthOptions());
                try
                {
                    await client.WatchAsync(apply, ack, outcome => { if (outcome.Applied > 0) WriteSummary(parseResult, asJson, outcome); }, limit.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (limit.IsCancellationRequested)
                {
                    // Ctrl+C, SIGTERM or --duration: a normal end.
                }
                return ExitCodes.Success;
            };
            if (!watch || parseResult.GetValue(serve) is false || (parseResult.GetValue(serve) is null && !ContentSenderFiles.ServingSetUp(directory)))
                return GroupConnection.RunAsync(parseResult, directory, body, cancellationToken);
            return WatchServingAsync(parseResult, directory, parseResult.GetValue(serve) is true, parseResult.GetValue(rescan), parseResult.GetValue(json), body,
                cancellationToken);
        });
        return command;
    }

    // The watch on a node that also serves this device's own contents (as `content serve`), both until the watch ends.
    private static async Task<int> WatchServingAsync(ParseResult parseResult, string directory, bool required, TimeSpan interval, bool asJson,
        Func<GroupClient, CancellationToken, Task<int>> watch, CancellationToken cancellationToken)
    {
        if (!GroupStore.Exists(directory)) return await GroupConnection.RunAsync(parseResult, directory, watch, cancellationToken).ConfigureAwait(false);
        using var serving = ContentSenderFiles.TryLockServing(directory);
        if (serving is null)
        {
            if (required) return CliOutput.Fail(parseResult, $"--serve-content: {ContentSenderFiles.AlreadyServing}", ExitCodes.InvalidInput);
            var note = new JsonObject { ["servingContent"] = false, ["reason"] = ContentSenderFiles.AlreadyServing };
            if (asJson) CliOutput.WriteJsonLine(parseResult, note);
            else CliOutput.WriteLine(parseResult, $"not serving this device's contents: {ContentSenderFiles.AlreadyServing}");
            return await GroupConnection.RunAsync(parseResult, directory, watch, cancellationToken).ConfigureAwait(false);
        }
        List<Core.Addressing.Multiaddr> listen;
        try
        {
            listen = ContentServeCommand.SavedListenAddresses(directory);
        }
        catch (Exception e) when (e is FormatException or InvalidDataException)
        {
            return CliOutput.Fail(parseResult, $"content-sender/endpoint.json: {e.Message}", ExitCodes.InvalidInput);
        }
        using var identity = ContentSenderFiles.LoadOrCreateIdentity(directory);
        return await GroupConnection.RunWithNodeAsync(parseResult, directory, async (node, store, ct) =>
        {
            var client = node.CreateGroupClient(store, new GroupClientOptions());
            await using (client.ConfigureAwait(false))
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var offering = ContentServeCommand.ServeOffersAsync(parseResult, directory, node, interval, asJson, new JsonObject { ["servingContent"] = true }, stop.Token);
                try
                {
                    return await watch(client, ct).ConfigureAwait(false);
                }
                finally
                {
                    await stop.CancelAsync().ConfigureAwait(false);
                    await offering.ConfigureAwait(false);
                }
            }
        }, cancellationToken, ContentServeCommand.ServingNode(identity, listen)).ConfigureAwait(false);
    }

    private static void WriteSummary(ParseResult parseResult, bool json, PullOutcome outcome)
    {
        var summary = new JsonObject
        {
            ["applied"] = outcome.Applied,
            ["duplicates"] = outcome.Duplicates,
            ["cursors"] = GroupConnection.Cursors(outcome.Cursors),
        };
        if (outcome.Rejected > 0) summary["rejected"] = outcome.Rejected;
        if (outcome.Unreachable.Count > 0) summary["unreachable"] = CliOutput.Strings(outcome.Unreachable);
        if (json) CliOutput.WriteJsonLine(parseResult, summary);
        else CliOutput.WriteLine(parseResult, $"applied {outcome.Applied}, duplicates {outcome.Duplicates}"
            + (outcome.Unreachable.Count > 0 ? $", unreachable: {string.Join(", ", outcome.Unreachable)}" : ""));
    }

    private static Command CreateStatus()
    {
        var group = GroupOption();
        var json = JsonOption();
        var command = new Command("status", "Each mailbox: reachable now, this device's cursor and epoch, blobs waiting in the outbox") { group, json };
        command.SetAction((parseResult, cancellationToken) => GroupConnection.RunAsync(parseResult, parseResult.GetValue(group)!, async (client, ct) =>
        {
            var status = await client.StatusAsync(probe: true, ct).ConfigureAwait(false);
            if (parseResult.GetValue(json))
            {
                CliOutput.WriteJsonLine(parseResult, new JsonObject
                {
                    ["mailboxes"] = new JsonArray([.. status.Select(s => (JsonNode)new JsonObject
                    {
                        ["slot"] = s.Slot,
                        ["peerId"] = s.PeerId?.ToString(),
                        ["reachable"] = s.Reachable,
                        ["cursor"] = s.Cursor,
                        ["epoch"] = s.Epoch,
                        ["outbox"] = s.Outbox,
                        ["error"] = s.Error,
                    })]),
                });
            }
            else
            {
                foreach (var s in status)
                    CliOutput.WriteLine(parseResult, $"{s.Slot} {(s.Reachable ? "reachable" : "UNREACHABLE")} cursor {s.Cursor} epoch {s.Epoch:x16} outbox {s.Outbox}"
                        + (s.Error is null ? "" : $" ({s.Error})"));
            }
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }

    private static Command CreateFlush()
    {
        var group = GroupOption();
        var json = JsonOption();
        var command = new Command("flush", "Retry every blob in the outbox now") { group, json };
        command.SetAction((parseResult, cancellationToken) => GroupConnection.RunAsync(parseResult, parseResult.GetValue(group)!, async (client, ct) =>
        {
            var outcome = await client.FlushAsync(all: true, ct).ConfigureAwait(false);
            var line = new JsonObject { ["delivered"] = outcome.Delivered, ["failed"] = outcome.Failed, ["remaining"] = outcome.Remaining };
            if (parseResult.GetValue(json)) CliOutput.WriteJsonLine(parseResult, line);
            else CliOutput.WriteLine(parseResult, $"delivered {outcome.Delivered}, failed {outcome.Failed}, remaining {outcome.Remaining}");
            return ExitCodes.Success;
        }, cancellationToken));
        return command;
    }
}
