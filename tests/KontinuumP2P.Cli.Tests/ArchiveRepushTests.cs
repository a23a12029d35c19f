using System.Text.Json;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Cli.Commands;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// <c>kontinuum archive restore --repush</c>: a group's blobs pushed through three mailbox nodes, archived by the
/// pusher composed into the replica node, restored from the <c>dir:</c> sink and pushed again to the group's mailboxes.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class ArchiveRepushTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-cli-repush-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task Restore_with_repush_seeds_the_groups_mailboxes_again(CancellationToken ct)
    {
        var sink = Path.Combine(_dir, "archive");
        // One folder per node: the content store sits beside the mailbox database, and nodes must not share one.
        await using var cluster = await CertifiedMailboxNodes.StartAsync("repushnet", _dir, ct, (i, options) =>
        {
            options.DataDirectory = Path.Combine(_dir, $"node-{i}");
            options.Mailbox = new MailboxServerOptions
            {
                Store = new MailboxStoreOptions { DatabasePath = Path.Combine(_dir, $"node-{i}", "mbx.db"), Role = i == 0 ? MailboxRole.Replica : MailboxRole.Ephemeral },
            };
            // The test cuts the packs itself (flush), so the pusher's own loop waits an hour.
            options.Archive = i == 0 ? new NodeArchiveOptions
            {
                Sinks = ["dir:" + sink],
                Pusher = new ArchivePusherOptions { MaxPackAge = TimeSpan.FromHours(1), PollInterval = TimeSpan.FromHours(1) },
            } : null;
        });
        var nodes = cluster.Nodes;
        var genesis = cluster.Genesis;
        var bootstrap = cluster.Bootstrap;
        var group = Path.Combine(_dir, "device-a");
        await RunJsonAsync(["group", "create", "--network", genesis, "--mailboxes", cluster.Slots,
            "--dir", group, "--bootstrap", bootstrap, "--json"], ct);
        var texts = new[] { "first note", "second, longer note" };
        for (var i = 0; i < texts.Length; i++)
        {
            var file = Path.Combine(_dir, $"note-{i}.txt");
            await File.WriteAllTextAsync(file, texts[i], ct);
            await RunJsonAsync(["mailbox", "push", "--group", group, file, "--required-acks", "3", "--json"], ct);
        }
        Assert.That(await nodes[0].ArchivePusher!.RunOnceAsync(flush: true, ct), Is.EqualTo(1));
        Assert.That(nodes[0].ArchiveStatus!.Blobs, Is.EqualTo(2));

        var output = Path.Combine(_dir, "restored");
        var lines = await RunJsonAsync(["archive", "restore", "--group", group, "--sink", "dir:" + sink, "--out", output, "--repush", "--json"], ct);
        Assert.That(lines[^2].GetProperty("restored").GetInt32(), Is.EqualTo(2));
        Assert.That(lines[^1].GetProperty("repushed").GetInt32(), Is.EqualTo(2));
        Assert.That(lines[^1].GetProperty("queued").GetInt32(), Is.Zero);
        Assert.That(Directory.GetFiles(output).Select(File.ReadAllText), Is.EquivalentTo(texts));
        // A push returns once the group's required acks are in; the third mailbox's copy may still sit in the outbox
        // when the command ends, and a flush delivers it.
        await RunJsonAsync(["mailbox", "flush", "--group", group, "--json"], ct);
        foreach (var node in nodes) Assert.That(node.MailboxServer!.Store.Statistics.Blobs, Is.EqualTo(4), "two pushed, two repushed");
    }

    [Test]
    public async Task Restore_with_repush_uploads_restored_contents_again_to_a_mailbox_node_that_lost_them(CancellationToken ct)
    {
        var sink = Path.Combine(_dir, "archive");
        // One folder per node (mailbox store and content store side by side), so losing node 2's disk loses its contents.
        await using var cluster = await CertifiedMailboxNodes.StartAsync("repushcontent", _dir, ct, (i, options) =>
        {
            options.DataDirectory = Path.Combine(_dir, $"node-{i}");
            options.Mailbox = new MailboxServerOptions
            {
                Store = new MailboxStoreOptions { DatabasePath = Path.Combine(_dir, $"node-{i}", "mbx.db"), Role = i == 0 ? MailboxRole.Replica : MailboxRole.Ephemeral },
            };
            options.Archive = i == 0 ? new NodeArchiveOptions
            {
                Sinks = ["dir:" + sink],
                Pusher = new ArchivePusherOptions { MaxPackAge = TimeSpan.FromHours(1), PollInterval = TimeSpan.FromHours(1) },
            } : null;
        });
        var group = Path.Combine(_dir, "device-a");
        // Three acks per push (the reference blob too): node 0, the replica, holds it before the pusher runs.
        await RunJsonAsync(["group", "create", "--network", cluster.Genesis, "--mailboxes", cluster.Slots, "--dir", group, "--bootstrap", cluster.Bootstrap,
            "--required-acks", "3", "--json"], ct);
        // Several chunks, the last one short.
        var attachment = new byte[(3 << 20) + 12_345];
        new Random(15).NextBytes(attachment);
        var file = Path.Combine(_dir, "photo.bin");
        await File.WriteAllBytesAsync(file, attachment, ct);
        var put = (await RunJsonAsync(["content", "put", file, "--group", group, "--json"], ct))[^1];
        var contentId = ContentId.Parse(put.GetProperty("contentId").GetString()!);
        var chunks = put.GetProperty("chunks").GetInt32();
        Assert.That(await cluster.Nodes[0].ArchivePusher!.RunOnceAsync(flush: true, ct), Is.EqualTo(1));
        Assert.That(cluster.Nodes[0].ArchiveStatus!.Blobs, Is.EqualTo(1), "the reference blob is archived");

        // Node 2 loses its disk and comes back empty under the same identity.
        var fresh = await cluster.RestartAsync(2, options =>
        {
            options.DataDirectory = Path.Combine(_dir, "node-2-new");
            options.Mailbox = new MailboxServerOptions
            {
                Store = new MailboxStoreOptions { DatabasePath = Path.Combine(_dir, "node-2-new", "mbx.db"), Role = MailboxRole.Ephemeral },
            };
        }, ct);
        Assert.That(fresh.ContentServer!.Store.Find(contentId), Is.Null);

        var output = Path.Combine(_dir, "restored");
        var lines = await RunJsonAsync(["archive", "restore", "--group", group, "--sink", "dir:" + sink, "--out", output, "--repush", "--json"], ct);
        Assert.That((lines[^2].GetProperty("restored").GetInt32(), lines[^2].GetProperty("attachments").GetInt32()), Is.EqualTo((1, 1)));
        var repush = lines[^1];
        Assert.That(repush.GetProperty("contentsRepushed").GetInt32(), Is.EqualTo(1));
        Assert.That(repush.GetProperty("contentChunksSent").GetInt32(), Is.EqualTo(chunks), "only the node that lost the content lacked chunks");
        Assert.That(repush.GetProperty("contentsFailed").GetArrayLength(), Is.Zero);
        Assert.That(repush.GetProperty("repushed").GetInt32(), Is.EqualTo(1));

        // The fresh node holds every chunk of the same content again, and a device can fetch it through the repushed reference.
        var held = fresh.ContentServer!.Store.Find(contentId);
        Assert.That(held, Is.Not.Null);
        Assert.That(held!.Value.Have.Cast<bool>().Count(h => h), Is.EqualTo(chunks));
        var fetched = Path.Combine(_dir, "fetched.bin");
        await RunJsonAsync(["content", "get", put.GetProperty("reference").GetString()!, "--group", group, "--out", fetched, "--json"], ct);
        Assert.That(await File.ReadAllBytesAsync(fetched, ct), Is.EqualTo(attachment));
    }

    private static async Task<List<JsonElement>> RunJsonAsync(string[] args, CancellationToken ct)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var command = args[0] switch { "group" => GroupCommands.Create(), "mailbox" => MailboxCommands.Create(), "content" => ContentCommands.Create(), _ => ArchiveCommands.Create() };
        var code = await LineWriter.InvokeAsync(command, args, output, error, ct);
        Assert.That(code, Is.Zero, $"{string.Join(' ', args)}: {error.Text}");
        return [.. output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        })];
    }
}
