using System.Text.Json;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

/// <summary><c>kontinuum content put|pull|get</c> between two devices of a group through three certified mailbox nodes.</summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class ContentCliTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-cli-content-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task A_large_file_sent_by_one_device_is_pulled_and_verified_by_the_other(CancellationToken ct)
    {
        await using var cluster = await CertifiedMailboxNodes.StartAsync("contentnet", _dir, ct);
        var nodes = cluster.Nodes;
        var genesis = cluster.Genesis;
        var bootstrap = cluster.Bootstrap;
        var slots = cluster.Slots;
        var a = Path.Combine(_dir, "device-a");
        var b = Path.Combine(_dir, "device-b");
        var created = (await RunJsonAsync(GroupCommands.Create(), ["group", "create", "--network", genesis, "--mailboxes", slots, "--dir", a, "--bootstrap", bootstrap, "--json"], ct))[0];
        await RunJsonAsync(GroupCommands.Create(), ["group", "join", created.GetProperty("invite").GetString()!, "--dir", b, "--network", genesis, "--bootstrap", bootstrap, "--json"], ct);

        var file = Path.Combine(_dir, "album.bin");
        var bytes = new byte[(3 << 20) + 12345];
        new Random(17).NextBytes(bytes);
        await File.WriteAllBytesAsync(file, bytes, ct);
        var put = (await RunJsonAsync(ContentCommands.Create(), ["content", "put", file, "--group", a, "--json"], ct))[0];
        Assert.That(put.GetProperty("storedAt").GetArrayLength(), Is.EqualTo(3));
        Assert.That(put.GetProperty("bytes").GetInt64(), Is.EqualTo(bytes.Length));
        var contentId = put.GetProperty("contentId").GetString()!;
        Assert.That(nodes.Select(n => n.ContentServer!.Store.Count), Is.All.EqualTo(1));

        var inbox = Path.Combine(_dir, "inbox");
        var pulled = (await RunJsonAsync(ContentCommands.Create(), ["content", "pull", "--group", b, "--out", inbox, "--json"], ct))[0];
        Assert.That(pulled.GetProperty("contentId").GetString(), Is.EqualTo(contentId));
        Assert.That(pulled.GetProperty("chunksFetched").GetInt32(), Is.EqualTo(13));
        Assert.That(await File.ReadAllBytesAsync(pulled.GetProperty("path").GetString()!, ct), Is.EqualTo(bytes));
        Assert.That(Path.GetFileName(pulled.GetProperty("path").GetString()), Does.EndWith("-album.bin"));

        var copy = Path.Combine(_dir, "copy.bin");
        var got = (await RunJsonAsync(ContentCommands.Create(), ["content", "get", put.GetProperty("reference").GetString()!, "--group", b, "--out", copy, "--json"], ct))[0];
        Assert.That(got.GetProperty("contentId").GetString(), Is.EqualTo(contentId));
        Assert.That(await File.ReadAllBytesAsync(copy, ct), Is.EqualTo(bytes));
    }

    [Test]
    public async Task Put_resumes_an_unfinished_upload_of_the_same_file_under_its_reference(CancellationToken ct)
    {
        await using var cluster = await CertifiedMailboxNodes.StartAsync("contentnet", _dir, ct);
        var a = Path.Combine(_dir, "device-a");
        await RunJsonAsync(GroupCommands.Create(), ["group", "create", "--network", cluster.Genesis, "--mailboxes", cluster.Slots, "--dir", a, "--bootstrap", cluster.Bootstrap, "--json"], ct);
        var file = Path.Combine(_dir, "doc.bin");
        var bytes = new byte[(1 << 20) + 77];
        new Random(18).NextBytes(bytes);
        await File.WriteAllBytesAsync(file, bytes, ct);
        var (reference, _) = await KontinuumP2P.Mailbox.Content.ContentEncoder.PrepareAsync(file, new KontinuumP2P.Mailbox.Content.ContentLimits(), cancellationToken: ct);

        // A put that stopped before sending anything left its reference behind: the next put resumes under it.
        ContentPendingUploads.Save(a, new FileInfo(file), reference);
        var first = (await RunJsonAsync(ContentCommands.Create(), ["content", "put", file, "--group", a, "--json"], ct))[0];
        Assert.That(first.GetProperty("resumed").GetBoolean(), Is.True);
        Assert.That(first.GetProperty("contentId").GetString(), Is.EqualTo(reference.Id.ToString()));
        Assert.That(first.GetProperty("chunksSent").GetInt32(), Is.EqualTo(5 * 3), "every chunk to each of the 3 nodes");
        Assert.That(Directory.GetFiles(Path.Combine(a, "content-uploads")), Is.Empty, "the finished upload is forgotten");

        // A put killed after every chunk was stored, before the reference was pushed: resuming sends nothing again.
        ContentPendingUploads.Save(a, new FileInfo(file), reference);
        var again = (await RunJsonAsync(ContentCommands.Create(), ["content", "put", file, "--group", a, "--json"], ct))[0];
        Assert.That(again.GetProperty("resumed").GetBoolean(), Is.True);
        Assert.That(again.GetProperty("chunksSent").GetInt32(), Is.Zero);
        Assert.That(again.GetProperty("contentId").GetString(), Is.EqualTo(reference.Id.ToString()));

        // --restart, or a put with nothing pending, starts a new content (a fresh key).
        ContentPendingUploads.Save(a, new FileInfo(file), reference);
        var fresh = (await RunJsonAsync(ContentCommands.Create(), ["content", "put", file, "--group", a, "--restart", "--json"], ct))[0];
        Assert.That(fresh.GetProperty("resumed").GetBoolean(), Is.False);
        Assert.That(fresh.GetProperty("contentId").GetString(), Is.Not.EqualTo(reference.Id.ToString()));
        Assert.That(fresh.GetProperty("chunksSent").GetInt32(), Is.EqualTo(5 * 3));
    }

    [Test]
    public async Task A_bad_reference_is_named_with_exit_code_two(CancellationToken ct)
    {
        var error = new LineWriter();
        var code = await LineWriter.InvokeAsync(ContentCommands.Create(), ["content", "get", "not-a-reference", "--group", _dir, "--out", Path.Combine(_dir, "x")],
            new LineWriter(), error, ct);
        Assert.That(code, Is.EqualTo(2), error.Text);
        Assert.That(error.Text, Does.Contain("REFERENCE"));
    }

    internal static async Task<List<JsonElement>> RunJsonAsync(System.CommandLine.Command command, string[] args, CancellationToken ct)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var code = await LineWriter.InvokeAsync(command, args, output, error, ct);
        Assert.That(code, Is.Zero, $"{string.Join(' ', args)}: {error.Text}");
        return [.. output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        })];
    }
}
