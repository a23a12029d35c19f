using System.Text.Json;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// <c>kontinuum group</c> and <c>kontinuum mailbox</c> against three certified mailbox nodes (real hosts on TCP
/// 127.0.0.1, DHT, SQLite): create, join, push, pull, status, flush, with the --json fields of design §6.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class GroupMailboxCliTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-cli-mbx-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task Two_devices_exchange_a_file_through_three_mailbox_nodes(CancellationToken ct)
    {
        await using var cluster = await CertifiedMailboxNodes.StartAsync("mbxnet", _dir, ct);
        var nodes = cluster.Nodes;
        var genesis = cluster.Genesis;
        var bootstrap = cluster.Bootstrap;
        var slots = cluster.Slots;
        var a = Path.Combine(_dir, "device-a");
        var b = Path.Combine(_dir, "device-b");

        var created = (await RunJsonAsync(["group", "create", "--network", genesis, "--mailboxes", slots, "--dir", a, "--bootstrap", bootstrap, "--json"], ct))[0];
        Assert.That(created.GetProperty("mailboxes").EnumerateArray().Select(m => m.GetString()), Is.EqualTo(nodes.Select(n => n.PeerId.ToString())));
        Assert.That(created.GetProperty("group").GetString(), Is.Not.Empty);
        var invite = created.GetProperty("invite").GetString()!;
        var again = (await RunJsonAsync(["group", "invite", "--dir", a, "--json"], ct))[0].GetProperty("invite").GetString();
        Assert.That(again, Is.Not.Empty);
        var joined = (await RunJsonAsync(["group", "join", invite, "--dir", b, "--network", genesis, "--bootstrap", bootstrap, "--json"], ct))[0];
        Assert.That(joined.GetProperty("group").GetString(), Is.EqualTo(created.GetProperty("group").GetString()));
        Assert.That(joined.GetProperty("device").GetString(), Is.Not.EqualTo(created.GetProperty("device").GetString()));

        var file = Path.Combine(_dir, "note.txt");
        await File.WriteAllTextAsync(file, "meet at noon", ct);
        var push = (await RunJsonAsync(["mailbox", "push", "--group", a, file, "--required-acks", "3", "--json"], ct))[0];
        var blobId = push.GetProperty("blobId").GetString()!;
        Assert.That(push.GetProperty("bytes").GetInt32(), Is.EqualTo(12));
        Assert.That(push.GetProperty("acked").GetArrayLength(), Is.EqualTo(3));
        Assert.That(push.GetProperty("acked")[0].GetProperty("cursor").GetUInt64(), Is.EqualTo(1UL));
        Assert.That(push.GetProperty("queued").GetArrayLength(), Is.Zero);

        var inbox = Path.Combine(_dir, "inbox");
        var pulled = await RunJsonAsync(["mailbox", "pull", "--group", b, "--out", inbox, "--json"], ct);
        Assert.That(pulled[0].GetProperty("blobId").GetString(), Is.EqualTo(blobId));
        Assert.That(pulled[0].GetProperty("mailbox").GetString(), Is.AnyOf(nodes.Select(n => n.PeerId.ToString()).ToArray()));
        Assert.That(await File.ReadAllTextAsync(Path.Combine(inbox, blobId), ct), Is.EqualTo("meet at noon"));
        var summary = pulled[^1];
        Assert.That((summary.GetProperty("applied").GetInt32(), summary.GetProperty("duplicates").GetInt32()), Is.EqualTo((1, 2)));
        Assert.That(summary.GetProperty("cursors").EnumerateObject().Select(c => c.Value.GetProperty("cursor").GetUInt64()), Is.All.EqualTo(1UL));
        var second = await RunJsonAsync(["mailbox", "pull", "--group", b, "--out", inbox, "--json"], ct);
        Assert.That(second[^1].GetProperty("applied").GetInt32(), Is.Zero);

        var status = (await RunJsonAsync(["mailbox", "status", "--group", b, "--json"], ct))[0].GetProperty("mailboxes");
        Assert.That(status.EnumerateArray().Select(m => m.GetProperty("reachable").GetBoolean()), Is.All.True);
        Assert.That(status.EnumerateArray().Select(m => m.GetProperty("cursor").GetUInt64()), Is.All.EqualTo(1UL));
        var flush = (await RunJsonAsync(["mailbox", "flush", "--group", a, "--json"], ct))[0];
        Assert.That(flush.GetProperty("remaining").GetInt32(), Is.Zero);
    }

    [TestCase(new[] { "group", "join", "not-an-invite", "--dir", "X" }, "INVITE")]
    [TestCase(new[] { "group", "create", "--network", "open", "--mailboxes", "a,b,c", "--dir", "X" }, "--network")]
    [TestCase(new[] { "group", "create", "--network", "mainnet", "--mailboxes", "a,a,c", "--dir", "X" }, "differ")]
    [TestCase(new[] { "group", "create", "--network", "mainnet", "--mailboxes", "a,b,c", "--dir", "X", "--hq", "/ip4/127.0.0.1/tcp/1" }, "--hq")]
    [TestCase(new[] { "mailbox", "status", "--group", "X" }, "holds no group")]
    public async Task Bad_input_is_named_with_exit_code_two(string[] args, string named, CancellationToken ct)
    {
        var error = new LineWriter();
        var code = await RunAsync([.. args.Select(a => a == "X" ? Path.Combine(_dir, "nothing") : a)], new LineWriter(), error, ct);
        Assert.That(code, Is.EqualTo(2), error.Text);
        Assert.That(error.Text, Does.Contain(named));
    }

    private static async Task<List<JsonElement>> RunJsonAsync(string[] args, CancellationToken ct)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var code = await RunAsync(args, output, error, ct);
        Assert.That(code, Is.Zero, $"{string.Join(' ', args)}: {error.Text}");
        return [.. output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        })];
    }

    private static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken ct) =>
        LineWriter.InvokeAsync(args[0] == "group" ? GroupCommands.Create() : MailboxCommands.Create(), args, output, error, ct);
}
