using System.Text.Json;
using KontinuumP2P.Cli.Commands;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// <c>group device|remove-device|rotate|close-old</c> and a new-directory join after a rotation, against three
/// certified mailbox nodes (real hosts on TCP 127.0.0.1, DHT, SQLite), with their --json fields.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class GroupDeviceCliTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-cli-dev-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task Remove_a_device_rotate_and_a_new_directory_reads_the_history(CancellationToken ct)
    {
        await using var cluster = await CertifiedMailboxNodes.StartAsync("devnet-rm", _dir, ct);
        var a = Path.Combine(_dir, "device-a");
        var lost = Path.Combine(_dir, "device-lost");
        var c = Path.Combine(_dir, "device-c");
        var created = (await RunJsonAsync(["group", "create", "--network", cluster.Genesis, "--mailboxes", cluster.Slots, "--dir", a, "--bootstrap", cluster.Bootstrap, "--json"], ct))[0];
        var joined = (await RunJsonAsync(["group", "join", created.GetProperty("invite").GetString()!, "--dir", lost, "--network", cluster.Genesis,
            "--bootstrap", cluster.Bootstrap, "--json"], ct))[0];
        var lostRef = joined.GetProperty("device_ref").GetString()!;
        var printed = (await RunJsonAsync(["group", "device", "--dir", lost, "--json"], ct))[0];
        Assert.That(printed.GetProperty("device_ref").GetString(), Is.EqualTo(lostRef));
        Assert.That(lostRef.Split(','), Has.Length.EqualTo(3));

        var file = Path.Combine(_dir, "note.txt");
        await File.WriteAllTextAsync(file, "before rotation", ct);
        var blobId = (await RunJsonAsync(["mailbox", "push", "--group", a, file, "--required-acks", "3", "--json"], ct))[0].GetProperty("blobId").GetString()!;
        // The lost device pulls once, so it is registered at every mailbox.
        await RunJsonAsync(["mailbox", "pull", "--group", lost, "--out", Path.Combine(_dir, "lost-inbox"), "--json"], ct);

        var removed = (await RunJsonAsync(["group", "remove-device", lostRef, "--dir", a, "--json"], ct))[0].GetProperty("mailboxes");
        Assert.That(removed.EnumerateArray().Select(m => m.GetProperty("removed").GetBoolean()), Is.All.True);
        Assert.That(removed.EnumerateArray().Select(m => m.GetProperty("devices").GetInt32()), Is.All.EqualTo(1));

        var rotated = (await RunJsonAsync(["group", "rotate", "--dir", a, "--json"], ct))[0];
        Assert.That(rotated.GetProperty("generation").GetInt32(), Is.EqualTo(2));
        Assert.That(rotated.GetProperty("closed").EnumerateArray().Count(m => m.GetProperty("closed").GetBoolean()), Is.EqualTo(3));
        var closedAgain = (await RunJsonAsync(["group", "close-old", "--dir", a, "--json"], ct))[0].GetProperty("closed");
        Assert.That(closedAgain.EnumerateArray().Select(m => m.GetProperty("closed").GetBoolean()), Is.All.True, "closing again is idempotent");

        await RunJsonAsync(["group", "join", rotated.GetProperty("invite").GetString()!, "--dir", c, "--network", cluster.Genesis,
            "--bootstrap", cluster.Bootstrap, "--json"], ct);
        var inbox = Path.Combine(_dir, "inbox");
        var pulled = await RunJsonAsync(["mailbox", "pull", "--group", c, "--out", inbox, "--json"], ct);
        Assert.That(pulled[^1].GetProperty("applied").GetInt32(), Is.EqualTo(1));
        Assert.That(pulled[^1].TryGetProperty("rejected", out _), Is.False, "nothing rejected (the field appears only when some were)");
        Assert.That(await File.ReadAllTextAsync(Path.Combine(inbox, blobId), ct), Is.EqualTo("before rotation"));
    }

    [TestCase(new[] { "group", "remove-device", "nonsense", "--dir", "X" }, "DEVICE")]
    [TestCase(new[] { "group", "remove-device", "mbx-a=00", "--dir", "X" }, "DEVICE")]
    [TestCase(new[] { "group", "device", "--dir", "X" }, "holds no group")]
    public async Task Bad_input_is_named_with_exit_code_two(string[] args, string named, CancellationToken ct)
    {
        var error = new LineWriter();
        var code = await LineWriter.InvokeAsync(GroupCommands.Create(), [.. args.Select(x => x == "X" ? Path.Combine(_dir, "nothing") : x)], new LineWriter(), error, ct);
        Assert.That(code, Is.EqualTo(2), error.Text);
        Assert.That(error.Text, Does.Contain(named));
    }

    private static async Task<List<JsonElement>> RunJsonAsync(string[] args, CancellationToken ct)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var code = await LineWriter.InvokeAsync(args[0] == "group" ? GroupCommands.Create() : MailboxCommands.Create(), args, output, error, ct);
        Assert.That(code, Is.Zero, $"{string.Join(' ', args)}: {error.Text}");
        return [.. output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        })];
    }
}
