using System.CommandLine;
using System.Text.Json.Nodes;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// <c>archive restore --repush</c>: seeds the group's (new) mailbox nodes with what was restored. Each restored content
/// (attachment) is uploaded again under its own reference first, so its content id and every chunk are the same and the
/// reference blob stays valid; then every restored plaintext is pushed like <c>mailbox push</c> would.
/// </summary>
internal static class ArchiveRepush
{
    public static Task<int> RunAsync(ParseResult pr, string group, string output, List<string> restored, bool asJson, CancellationToken cancellationToken) =>
        GroupConnection.RunWithNodeAsync(pr, group, async (node, store, ct) =>
        {
            // Contents before the references that name them: a device that pulls a repushed reference finds its content.
            var contents = await UploadContentsAsync(node, store, output, restored, ct).ConfigureAwait(false);
            int durable = 0, queued = 0;
            var client = node.CreateGroupClient(store);
            await using (client.ConfigureAwait(false))
            {
                foreach (var id in restored)
                {
                    var plain = await File.ReadAllBytesAsync(Path.Combine(output, id), ct).ConfigureAwait(false);
                    var outcome = await client.PushAsync(plain, ct).ConfigureAwait(false);
                    if (outcome.Durable) durable++;
                    else queued++;
                }
            }
            if (asJson)
            {
                CliOutput.WriteJsonLine(pr, new JsonObject
                {
                    ["repushed"] = durable, ["queued"] = queued, ["contentsRepushed"] = contents.Uploaded, ["contentChunksSent"] = contents.ChunksSent,
                    ["contentsFailed"] = CliOutput.Strings(contents.Failed),
                });
            }
            else
            {
                CliOutput.WriteLine(pr, $"repushed {durable}, queued {queued} (in the outbox: `kontinuum mailbox flush`); contents uploaded again {contents.Uploaded} ({contents.ChunksSent} chunks sent)");
                foreach (var failure in contents.Failed) CliOutput.WriteLine(pr, $"content not uploaded: {failure}");
            }
            if (contents.Failed.Count > 0) return CliOutput.Fail(pr, $"{contents.Failed.Count} content uploads failed: {string.Join("; ", contents.Failed)}");
            return queued == 0 ? ExitCodes.Success : CliOutput.Fail(pr, $"{queued} restored blobs did not reach enough mailboxes; they stay in the outbox (`kontinuum mailbox flush`)");
        }, cancellationToken);

    private sealed record ContentsOutcome(int Uploaded, int ChunksSent, List<string> Failed);

    // Every distinct content a restored reference names and the restore brought back (OUT/attachments/<id>/<name>),
    // put to each holder that lacks chunks of it. A reference whose content was not restored is pushed as it is (the
    // restore already reported the missing attachment).
    private static async Task<ContentsOutcome> UploadContentsAsync(KontinuumNode node, GroupStore store, string output, List<string> restored, CancellationToken ct)
    {
        var references = new Dictionary<ContentId, (ContentReference Reference, string File)>();
        foreach (var id in restored)
        {
            var plain = await File.ReadAllBytesAsync(Path.Combine(output, id), ct).ConfigureAwait(false);
            if (!ContentReference.IsReference(plain)) continue;
            ContentReference reference;
            try
            {
                reference = ContentReference.FromBlob(plain);
            }
            catch (ContentException)
            {
                continue;
            }
            if (references.ContainsKey(reference.Id) || AttachmentOf(output, reference) is not { } file) continue;
            references[reference.Id] = (reference, file);
        }
        var failed = new List<string>();
        if (references.Count == 0) return new ContentsOutcome(0, 0, failed);
        var holders = await ContentHolder.ForGroupAsync(store, node.CreateMailboxResolver(), node.CreateMailboxVerifier(), ct).ConfigureAwait(false);
        var content = new ContentClient(node.Host!);
        int uploaded = 0, sent = 0;
        foreach (var (reference, file) in references.Values)
        {
            try
            {
                // The reference's own key and chunk size: sealing is deterministic, so the content id comes out the same.
                var upload = await content.ResumeUploadAsync(file, reference, holders, cancellationToken: ct).ConfigureAwait(false);
                uploaded++;
                sent += upload.ChunksSent;
                failed.AddRange(upload.Failed.Select(f => $"{reference.Id} at {f.Peer}: {f.Error}"));
            }
            catch (ContentException e)
            {
                failed.Add($"{reference.Id}: {e.Message}");
            }
        }
        return new ContentsOutcome(uploaded, sent, failed);
    }

    // The attachment the restore wrote for this reference (the one finished file in its folder), or null.
    private static string? AttachmentOf(string output, ContentReference reference)
    {
        var folder = Path.Combine(output, "attachments", reference.Id.ToString());
        if (!Directory.Exists(folder)) return null;
        var files = Directory.GetFiles(folder).Where(f => !f.EndsWith(".partial", StringComparison.Ordinal)).ToList();
        return files.Count == 1 ? files[0] : null;
    }
}
