using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// <c>kontinuum content put|get|pull</c>: large attachments (up to 100 MiB) for one group directory. <c>put</c> encrypts
/// a file, stores its chunks at the group's mailbox nodes and pushes the reference as an ordinary blob; <c>pull</c>
/// pulls the group's blobs and fetches every referenced content; <c>get</c> fetches one reference given as text.
/// </summary>
internal static class ContentCommands
{
    public static Command Create()
    {
        var content = new Command("content", "Send and receive large encrypted attachments through a group's mailbox nodes");
        content.Subcommands.Add(CreatePut());
        content.Subcommands.Add(CreateGet());
        content.Subcommands.Add(CreatePull());
        content.Subcommands.Add(ContentServeCommand.Create());
        return content;
    }

    private static Option<string> GroupOption() => new("--group") { Description = "The group directory", Required = true };

    private static Option<bool> JsonOption() => new("--json") { Description = "Print JSON only" };

    private static Command CreatePut()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The file to send (at most 100 MiB)" };
        var group = GroupOption();
        var json = JsonOption();
        var restart = new Option<bool>("--restart") { Description = "Start a new upload (a new key and content id) even if an unfinished one of the same file can be resumed" };
        var command = new Command("put", "Encrypt FILE, store its chunks at the group's mailbox nodes and push its reference; "
            + "an interrupted put of the same unchanged file resumes, sending only the chunks the nodes lack") { file, group, json, restart };
        command.SetAction((parseResult, cancellationToken) =>
        {
            var input = parseResult.GetValue(file)!;
            if (!input.Exists) return Task.FromResult(CliOutput.Fail(parseResult, $"FILE: {input.FullName} does not exist", ExitCodes.InvalidInput));
            if (input.Length > ContentLimits.DefaultMaxContentBytes)
                return Task.FromResult(CliOutput.Fail(parseResult, $"FILE: {input.FullName} is {input.Length} bytes; a content holds at most {ContentLimits.DefaultMaxContentBytes}", ExitCodes.InvalidInput));
            var asJson = parseResult.GetValue(json);
            var groupDirectory = parseResult.GetValue(group)!;
            return GroupConnection.RunWithNodeAsync(parseResult, groupDirectory, async (node, store, ct) =>
            {
                var holders = await ContentHolder.ForGroupAsync(store, node.CreateMailboxResolver(), node.CreateMailboxVerifier(), ct).ConfigureAwait(false);
                var content = new ContentClient(node.Host!);
                // The reference is kept before anything is sent, so a put killed at any point resumes under the same content id.
                var pending = parseResult.GetValue(restart) ? null : ContentPendingUploads.Find(groupDirectory, input);
                var reference = pending ?? await content.PrepareUploadAsync(input.FullName, ct).ConfigureAwait(false);
                if (pending is null) ContentPendingUploads.Save(groupDirectory, input, reference);
                // Serving set up here (`content serve`): the reference names this device's server, which offers the file.
                var endpoint = ContentSenderFiles.LoadEndpoint(groupDirectory);
                if (endpoint is { } sender) reference = reference with { Sender = sender.Peer, SenderAddresses = sender.Addresses };
                ContentUpload upload;
                try
                {
                    upload = await content.ResumeUploadAsync(input.FullName, reference, holders, Progress(parseResult, asJson, "put"), ct).ConfigureAwait(false);
                }
                catch (ContentException e) when (e.Code == ContentErrorCode.BadManifest)
                {
                    ContentPendingUploads.Remove(groupDirectory, input);
                    throw;
                }
                EndProgress(asJson);
                var client = node.CreateGroupClient(store);
                await using (client.ConfigureAwait(false))
                {
                    if (endpoint is not null) ContentSenderFiles.SaveOffer(groupDirectory, input, upload.Reference);
                    var pushed = await client.PushAsync(upload.Reference.ToBlob(), ct).ConfigureAwait(false);
                    ContentPendingUploads.Remove(groupDirectory, input);
                    var line = new JsonObject
                    {
                        ["contentId"] = upload.Reference.Id.ToString(),
                        ["bytes"] = upload.Reference.Size,
                        ["chunks"] = upload.Reference.ChunkCount,
                        ["chunksSent"] = upload.ChunksSent,
                        ["resumed"] = pending is not null,
                        ["sender"] = endpoint?.Peer.ToString(),
                        ["storedAt"] = CliOutput.Strings(upload.Stored.Select(p => p.ToString())),
                        ["failed"] = CliOutput.Strings(upload.Failed.Select(f => $"{f.Peer}: {f.Error}")),
                        ["referenceBlobId"] = pushed.Id.ToString(),
                        ["reference"] = upload.Reference.ToText(),
                    };
                    if (asJson) CliOutput.WriteJsonLine(parseResult, line);
                    else CliOutput.WriteLine(parseResult, $"{upload.Reference.Id} {upload.Reference.Size} B in {upload.Reference.ChunkCount} chunks "
                        + $"({upload.ChunksSent} sent{(pending is null ? "" : ", resumed")}) stored at {upload.Stored.Count} of {holders.Count} "
                        + $"mailbox nodes; reference pushed as {pushed.Id}\nreference (secret): {upload.Reference.ToText()}");
                    return pushed.Durable ? ExitCodes.Success : CliOutput.Fail(parseResult, "the reference blob is queued in the outbox (`kontinuum mailbox flush`)");
                }
            }, cancellationToken);
        });
        return command;
    }

    private static Command CreateGet()
    {
        var reference = new Argument<string>("REFERENCE") { Description = "The reference text printed by `content put`" };
        var group = GroupOption();
        var output = new Option<string>("--out") { Description = "The file to write", Required = true };
        var json = JsonOption();
        var command = new Command("get", "Fetch, verify and decrypt one content (resumes a partial --out.part)") { reference, group, output, json };
        command.SetAction((parseResult, cancellationToken) =>
        {
            ContentReference parsed;
            try
            {
                parsed = ContentReference.ParseText(parseResult.GetValue(reference)!);
            }
            catch (ContentException e)
            {
                return Task.FromResult(CliOutput.Fail(parseResult, $"REFERENCE: {e.Message}", ExitCodes.InvalidInput));
            }
            var asJson = parseResult.GetValue(json);
            return GroupConnection.RunWithNodeAsync(parseResult, parseResult.GetValue(group)!, async (node, store, ct) =>
            {
                var holders = await ContentHolder.ForGroupAsync(store, node.CreateMailboxResolver(), node.CreateMailboxVerifier(), ct).ConfigureAwait(false);
                var download = await new ContentClient(node.Host!).DownloadAsync(parsed, holders, Path.GetFullPath(parseResult.GetValue(output)!),
                    Progress(parseResult, asJson, "get"), ct).ConfigureAwait(false);
                EndProgress(asJson);
                Report(parseResult, asJson, parsed, download);
                return ExitCodes.Success;
            }, cancellationToken);
        });
        return command;
    }

    private static Command CreatePull()
    {
        var group = GroupOption();
        var output = new Option<string>("--out") { Description = "Folder for received blobs and contents (default GROUPDIR/received)" };
        var json = JsonOption();
        var command = new Command("pull", "Pull the group's new blobs; fetch every referenced content into --out once verified") { group, output, json };
        command.SetAction((parseResult, cancellationToken) =>
        {
            var directory = parseResult.GetValue(group)!;
            var outDir = Path.GetFullPath(parseResult.GetValue(output) ?? Path.Combine(directory, "received"));
            var asJson = parseResult.GetValue(json);
            return GroupConnection.RunWithNodeAsync(parseResult, directory, async (node, store, ct) =>
            {
                Directory.CreateDirectory(outDir);
                var references = new List<ContentReference>();
                var write = MailboxCommands.WriteTo(outDir);
                var client = node.CreateGroupClient(store);
                await using (client.ConfigureAwait(false))
                {
                    // References are collected while pulling and fetched after, so a slow content never holds the pull open.
                    await client.PullAsync(async (blob, token) =>
                    {
                        if (ContentReference.IsReference(blob.Plaintext.Span)) references.Add(ContentReference.FromBlob(blob.Plaintext.Span));
                        else await write(blob, token).ConfigureAwait(false);
                    }, ack: true, ct).ConfigureAwait(false);
                }
                if (references.Count == 0) return ExitCodes.Success;
                var holders = await ContentHolder.ForGroupAsync(store, node.CreateMailboxResolver(), node.CreateMailboxVerifier(), ct).ConfigureAwait(false);
                var content = new ContentClient(node.Host!);
                var failed = 0;
                foreach (var reference in references)
                {
                    var name = SafeName(reference);
                    try
                    {
                        var download = await content.DownloadAsync(reference, holders, Path.Combine(outDir, name), Progress(parseResult, asJson, name), ct).ConfigureAwait(false);
                        EndProgress(asJson);
                        Report(parseResult, asJson, reference, download);
                    }
                    catch (ContentException e)
                    {
                        EndProgress(asJson);
                        failed++;
                        CliOutput.Fail(parseResult, $"{reference.Id}: {e.Message} (run `content pull` again to resume)");
                    }
                }
                return failed == 0 ? ExitCodes.Success : ExitCodes.Failure;
            }, cancellationToken);
        });
        return command;
    }

    // The sender's name is untrusted: only its last segment, and the content id keeps names unique.
    private static string SafeName(ContentReference reference)
    {
        var name = Path.GetFileName(reference.Name.Replace('\\', '/'));
        var id = reference.Id.ToString();
        return string.IsNullOrWhiteSpace(name) || name is "." or ".." ? id : $"{id[^12..]}-{name}";
    }

    private static void Report(ParseResult parseResult, bool asJson, ContentReference reference, ContentDownload download)
    {
        var line = new JsonObject
        {
            ["contentId"] = reference.Id.ToString(),
            ["path"] = download.Path,
            ["bytes"] = reference.Size,
            ["chunksFetched"] = download.ChunksFetched,
            ["chunksResumed"] = download.ChunksResumed,
            ["chunksRejected"] = download.ChunksRejected,
            ["fetchedFrom"] = new JsonObject([.. download.FetchedFrom.Select(f => KeyValuePair.Create(f.Key.ToString(), (JsonNode?)f.Value))]),
        };
        if (asJson) CliOutput.WriteJsonLine(parseResult, line);
        else CliOutput.WriteLine(parseResult, $"{reference.Id} {reference.Size} B -> {download.Path} ({download.ChunksFetched} chunks fetched, "
            + $"{download.ChunksResumed} resumed, {download.ChunksRejected} rejected and refetched)");
    }

    // Progress on a terminal only (not with --json, not when stderr is redirected).
    private static IProgress<ContentProgress>? Progress(ParseResult parseResult, bool asJson, string label)
    {
        if (asJson || Console.IsErrorRedirected) return null;
        var error = parseResult.InvocationConfiguration.Error;
        return new Progress<ContentProgress>(p => error.Write($"\r{label}: {p.ChunksDone}/{p.ChunkCount} chunks, {p.BytesDone / (1 << 20)}/{p.Size / (1 << 20)} MiB   "));
    }

    private static void EndProgress(bool asJson)
    {
        if (!asJson && !Console.IsErrorRedirected) Console.Error.WriteLine();
    }
}
