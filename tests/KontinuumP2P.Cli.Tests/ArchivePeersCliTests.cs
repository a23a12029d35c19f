using System.Text.Json;
using KontinuumP2P.Archive.Holders;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Cli.Commands;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// <c>kontinuum archive restore|verify --sink peers</c>: a group's blobs archived by the replica node's pusher to three
/// archive holders of three providers, then restored and verified by the CLI through a DHT client node.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class ArchivePeersCliTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-cli-peers-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task Restore_and_verify_read_the_archive_from_the_networks_holders(CancellationToken ct)
    {
        await using var cluster = await CertifiedMailboxNodes.StartAsync("peersnet", _dir, ct, (i, options) =>
        {
            options.DataDirectory = Path.Combine(_dir, $"node-{i}");
            options.Mailbox = new MailboxServerOptions
            {
                Store = new MailboxStoreOptions { DatabasePath = Path.Combine(_dir, $"mbx-{i}.db"), Role = i == 0 ? MailboxRole.Replica : MailboxRole.Ephemeral },
            };
            options.Archive = i == 0 ? new NodeArchiveOptions
            {
                Sinks = ["peers"],
                Pusher = new ArchivePusherOptions { MaxPackAge = TimeSpan.FromHours(1), PollInterval = TimeSpan.FromHours(1) },
            } : null;
        });
        var group = Path.Combine(_dir, "device-a");
        await RunJsonAsync(["group", "create", "--network", cluster.Genesis, "--mailboxes", cluster.Slots,
            "--dir", group, "--bootstrap", cluster.Bootstrap, "--json"], ct);
        var holders = new List<KontinuumNode>();
        for (var i = 0; i < 3; i++)
        {
            var folder = Path.Combine(_dir, $"holder-{i}");
            holders.Add(await cluster.StartExtraAsync(["dht", "archive"], $"holder-provider-{i}", folder, ct,
                o => o.ArchiveHolder = new ArchiveHolderOptions { Directory = Path.Combine(folder, "held") }));
        }
        foreach (var holder in holders) await holder.ArchiveHolder!.AnnounceAsync(ct);

        var texts = new[] { "first archived note", "second archived note, a little longer" };
        for (var i = 0; i < texts.Length; i++)
        {
            var file = Path.Combine(_dir, $"note-{i}.txt");
            await File.WriteAllTextAsync(file, texts[i], ct);
            await RunJsonAsync(["mailbox", "push", "--group", group, file, "--required-acks", "3", "--json"], ct);
        }
        var pusher = cluster.Nodes[0];
        Assert.That(await pusher.ArchivePusher!.RunOnceAsync(flush: true, ct), Is.EqualTo(1));
        Assert.That(pusher.ArchiveStatus!.Packs, Is.EqualTo(1), "the pack reached 3 holders of distinct providers");

        var output = Path.Combine(_dir, "restored");
        var lines = await RunJsonAsync(["archive", "restore", "--group", group, "--sink", "peers", "--out", output, "--json"], ct);
        Assert.That(lines[^1].GetProperty("restored").GetInt32(), Is.EqualTo(2));
        Assert.That(Directory.GetFiles(output).Select(File.ReadAllText), Is.EquivalentTo(texts));

        lines = await RunJsonAsync(["archive", "verify", "--sink", "peers", "--network", cluster.Genesis, "--bootstrap", cluster.Bootstrap,
            "--sample", "100", "--json"], ct);
        Assert.That(lines[0].GetProperty("packs").GetInt32(), Is.EqualTo(1));
        Assert.That(lines[0].GetProperty("verified").GetInt32(), Is.EqualTo(1));
    }

    private static async Task<List<JsonElement>> RunJsonAsync(string[] args, CancellationToken ct)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var command = args[0] switch { "group" => GroupCommands.Create(), "mailbox" => MailboxCommands.Create(), _ => ArchiveCommands.Create() };
        var code = await LineWriter.InvokeAsync(command, args, output, error, ct);
        Assert.That(code, Is.Zero, $"{string.Join(' ', args)}: {error.Text}");
        return [.. output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        })];
    }
}
