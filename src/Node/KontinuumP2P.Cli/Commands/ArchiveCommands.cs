using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Archive;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Restore;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Cli.Output;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>kontinuum archive verify|restore</c> (design §6 and §8).</summary>
internal static class ArchiveCommands
{
    /// <summary>The <c>archive</c> command group.</summary>
    public static Command Create()
    {
        var archive = new Command("archive", "Cold archive: verify stored packs, restore a group's blobs from a sink");
        archive.Subcommands.Add(Verify());
        archive.Subcommands.Add(Restore());
        return archive;
    }

    private static Option<string> SinkOption() =>
        new("--sink") { Description = "dir:PATH, s3://BUCKET?endpoint=URL (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or peers", Required = true };

    private static Option<bool> JsonOption() => new("--json") { Description = "Print JSON only" };

    private static Command Verify()
    {
        var sink = SinkOption();
        var sample = new Option<int>("--sample") { Description = "Percent of packs read back this round (100 = all)", DefaultValueFactory = _ => 10 };
        var round = new Option<long?>("--round") { Description = "Sample round (default: days since 1970, so daily runs rotate through every pack)" };
        var network = new Option<string>("--network") { Description = "Network of the peers sink" };
        var bootstrap = new Option<string[]>("--bootstrap") { Description = "Bootstrap peers for the peers sink; repeatable", AllowMultipleArgumentsPerToken = true };
        var state = new Option<string>("--state")
        {
            Description = "The pusher's state file (archive-state.db in the node's data folder): every pack it archived must be in the sink, else it is listed as missing",
        };
        var json = JsonOption();
        var command = new Command("verify", "Read back a rotating sample of a sink's packs and check every BLAKE3");
        foreach (var o in new Option[] { sink, sample, round, network, bootstrap, state, json }) command.Options.Add(o);
        command.SetAction(async (pr, ct) =>
        {
            var percent = pr.GetValue(sample);
            if (percent is < 1 or > 100) return CliOutput.Fail(pr, $"--sample: {percent} is not a percentage from 1 to 100", ExitCodes.InvalidInput);
            List<ArchiveObjectId>? expected = null;
            if (pr.GetValue(state) is { } statePath)
            {
                if (!File.Exists(statePath)) return CliOutput.Fail(pr, $"--state: {statePath} does not exist", ExitCodes.InvalidInput);
                using var stateStore = new PusherStateStore(statePath);
                expected = [.. stateStore.Packs().Select(p => ArchiveObjectId.Parse(p.PackId))];
            }
            return await ArchiveSinkScope.RunAsync(pr, pr.GetValue(sink)!, pr.GetValue(network), pr.GetValue(bootstrap), async (opened, _) =>
            {
                var r = pr.GetValue(round) ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 86_400;
                VerifyReport report;
                try
                {
                    report = await ArchiveVerifier.VerifyAsync(opened, percent, r, expected, ct);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or Amazon.Runtime.AmazonServiceException or HttpRequestException)
                {
                    return CliOutput.Fail(pr, $"{opened.Name}: {e.Message}");
                }
                if (pr.GetValue(json))
                {
                    CliOutput.WriteJsonLine(pr, new JsonObject
                    {
                        ["packs"] = report.Packs, ["verified"] = report.Verified,
                        ["missing"] = CliOutput.Strings(report.Missing.Select(m => m.ToString())),
                        ["corrupt"] = CliOutput.Strings(report.Corrupt.Select(c => c.ToString())),
                        ["contents"] = report.Contents, ["contentsVerified"] = report.ContentsVerified,
                    });
                }
                else
                {
                    CliOutput.WriteLine(pr, $"{opened.Name}: {report.Packs} packs, {report.Verified} verified, {report.Contents} contents, {report.ContentsVerified} verified ({percent}% sample, round {r}), {report.Missing.Count} missing, {report.Corrupt.Count} corrupt");
                    foreach (var c in report.Corrupt) CliOutput.WriteLine(pr, $"corrupt {c}");
                    foreach (var m in report.Missing) CliOutput.WriteLine(pr, $"missing {m}");
                }
                return report.Missing.Count + report.Corrupt.Count == 0 ? ExitCodes.Success : ExitCodes.Failure;
            }, ct);
        });
        return command;
    }

    private static Command Restore()
    {
        var group = new Option<string>("--group") { Description = "The group's folder (its secret generations and mailbox slots)", Required = true };
        var sink = SinkOption();
        var output = new Option<string>("--out")
        {
            Description = "Folder for the plaintext blobs, one file per blob id; attachments the blobs reference go to attachments/<content id>/<name>", Required = true,
        };
        var repush = new Option<bool>("--repush")
        {
            Description = "Then upload every restored attachment again to the group's (new) mailbox nodes (same content id) and push every restored blob again (sealed afresh, so under a new blob id; the devices get them as new blobs)",
        };
        var json = JsonOption();
        var command = new Command("restore", "Restore every blob of a group from an archive sink, verified and decrypted");
        foreach (var o in new Option[] { group, sink, output, repush, json }) command.Options.Add(o);
        command.SetAction(async (pr, ct) =>
        {
            // The peers sink joins the group's own network (network.json in the group folder).
            var groupDir = pr.GetValue(group)!;
            var (groupNetwork, groupBootstrap) = File.Exists(Path.Combine(groupDir, GroupConnection.FileName)) ? GroupConnection.Load(groupDir) : (null, null);
            return await ArchiveSinkScope.RunAsync(pr, pr.GetValue(sink)!, groupNetwork, groupBootstrap, async (opened, _) =>
            {
                var asJson = pr.GetValue(json);
                GroupRestoreReport report;
                var restored = new List<string>();
                try
                {
                    report = await GroupRestorer.RestoreAsync(pr.GetValue(group)!, [opened], pr.GetValue(output)!, blob =>
                    {
                        restored.Add(blob.BlobId);
                        if (asJson) CliOutput.WriteJsonLine(pr, new JsonObject { ["blobId"] = blob.BlobId, ["bytes"] = blob.Bytes, ["mailbox"] = blob.Slot });
                        else CliOutput.WriteLine(pr, $"{blob.BlobId}  {blob.Bytes} bytes  from {blob.Slot}");
                        return ValueTask.CompletedTask;
                    }, ct);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
                {
                    return CliOutput.Fail(pr, e.Message, e is FileNotFoundException or DirectoryNotFoundException ? ExitCodes.InvalidInput : ExitCodes.Failure);
                }
                if (asJson)
                {
                    CliOutput.WriteJsonLine(pr, new JsonObject
                    {
                        ["restored"] = report.Restored, ["verified"] = report.Verified, ["missing"] = report.Missing,
                        ["undecryptable"] = report.Undecryptable, ["chainErrors"] = CliOutput.Strings(report.ChainErrors),
                        ["attachments"] = report.Attachments, ["missingAttachments"] = report.MissingAttachments,
                    });
                }
                else
                {
                    CliOutput.WriteLine(pr, $"restored {report.Restored}, verified {report.Verified}, missing {report.Missing}, undecryptable {report.Undecryptable}, attachments {report.Attachments} (in {Path.Combine(pr.GetValue(output)!, "attachments")}), missing attachments {report.MissingAttachments}");
                    foreach (var e in report.ChainErrors) CliOutput.WriteLine(pr, $"chain ended early: {e}");
                }
                var complete = report.Missing + report.Undecryptable + report.MissingAttachments + report.ChainErrors.Count == 0;
                if (!pr.GetValue(repush)) return complete ? ExitCodes.Success : ExitCodes.Failure;
                var pushed = await ArchiveRepush.RunAsync(pr, pr.GetValue(group)!, pr.GetValue(output)!, restored, asJson, ct);
                return pushed != ExitCodes.Success ? pushed : complete ? ExitCodes.Success : ExitCodes.Failure;
            }, ct);
        });
        return command;
    }
}
