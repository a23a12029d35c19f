using System.Text.Json;
using KontinuumP2P.Cli.Commands;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Hq;
using KontinuumP2P.Hq.Admin;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Mailbox.Client;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// <c>group create --hq</c> end to end: HQ's admin API (Kestrel on 127.0.0.1, HQ's SQLite registry) allocates 3 slots
/// on 3 providers for a new group under the operator token; the CLI writes the group with those slots, and a device
/// joining its invite gets the same slots. A wrong token and a fleet without 3 providers are refused and create nothing.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed class GroupCreateHqTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-group-hq-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task HQ_allocates_three_slots_on_three_providers_and_the_invite_names_them(CancellationToken ct)
    {
        using var authority = new DevnetAuthority("lab", 1, 1, TimeProvider.System);
        using var key = Ed25519Identity.Generate();
        var certificate = authority.IssueCertificate(key, TimeSpan.FromDays(1), ["dht", "hq"], "devnet-hq");
        using var hq = new HqService(Path.Combine(_dir, "hq"), key, certificate, new EscalationOptions(), TimeProvider.System);
        // Two slots on p0: diversity must still give one slot per provider.
        string[][] fleet = [["mbx-a", "p0"], ["mbx-b", "p0"], ["mbx-c", "p1"], ["mbx-d", "p2"]];
        foreach (var s in fleet) hq.RegisterSlot("test", s[0], Ed25519Identity.Generate().PeerId, s[1], "eu", MailboxRole.Ephemeral, 100);
        var enrollment = new EnrollmentService(hq.Database, hq.Audit, () => null!, [], TimeSpan.FromDays(1), TimeSpan.FromDays(1), TimeProvider.System);
        const string token = "operator-token-for-the-test";
        await using var api = await AdminApi.StartAsync(new HqOptions.AdminApiOptions { Listen = "http://127.0.0.1:0" }, enrollment, hq.Audit,
            AdminApi.HashOperatorToken(token), hq, null, ct);
        var tokenFile = Path.Combine(_dir, "operator.token");
        await File.WriteAllTextAsync(tokenFile, token + "\n", ct);
        var genesis = Path.Combine(_dir, "genesis.json");
        await File.WriteAllTextAsync(genesis, KontinuumP2P.Node.Networks.GenesisFile.Write(authority.Network), ct);
        var endpoint = api.Address.ToString();

        var a = Path.Combine(_dir, "a");
        var (code, output, error) = await RunAsync(["group", "create", "--network", genesis, "--hq", endpoint, "--hq-token-file", tokenFile, "--dir", a, "--json"], ct);
        Assert.That(code, Is.Zero, error);
        using var created = JsonDocument.Parse(output);
        var slots = created.RootElement.GetProperty("mailboxes").EnumerateArray().Select(e => e.GetString()!).ToList();
        var groupId = created.RootElement.GetProperty("hqGroup").GetString();
        Assert.That(slots, Has.Count.EqualTo(3));
        var providers = slots.Select(s => hq.Registry.GetSlot(s)!.Provider).ToList();
        Assert.That(providers.Distinct().Count(), Is.EqualTo(3), "one slot per provider");
        Assert.That(hq.Registry.Groups().Single(g => g.GroupId == groupId).Slots, Is.EquivalentTo(slots), "HQ recorded the group with those slots");
        Assert.That(hq.Audit.Tail(50).Select(e => e.Detail), Has.Some.Contains(groupId!), "the allocation is in the audit log");

        var invite = created.RootElement.GetProperty("invite").GetString()!;
        var b = Path.Combine(_dir, "b");
        var (joinCode, _, joinError) = await RunAsync(["group", "join", invite, "--dir", b, "--network", genesis, "--json"], ct);
        Assert.That(joinCode, Is.Zero, joinError);
        using (var joined = GroupStore.Open(b)) Assert.That(joined.Current.Slots, Is.EqualTo(slots), "the invite names HQ's slots");

        // Refusals change nothing: a wrong token, then both --hq and --mailboxes.
        await File.WriteAllTextAsync(tokenFile, "not-the-token", ct);
        var c = Path.Combine(_dir, "c");
        var (badCode, _, badError) = await RunAsync(["group", "create", "--network", genesis, "--hq", endpoint, "--hq-token-file", tokenFile, "--dir", c, "--json"], ct);
        Assert.That(badCode, Is.EqualTo(1));
        Assert.That(badError, Does.Contain("not-operator"));
        Assert.That(GroupStore.Exists(c), Is.False);
        Assert.That(hq.Registry.Groups(), Has.Count.EqualTo(1));
        var (bothCode, _, bothError) = await RunAsync(["group", "create", "--network", genesis, "--hq", endpoint, "--hq-token-file", tokenFile, "--mailboxes", "x,y,z", "--dir", c], ct);
        Assert.That(bothCode, Is.EqualTo(2));
        Assert.That(bothError, Does.Contain("one of the two"));

        // Two of three providers left: allocation is refused rather than break diversity.
        await File.WriteAllTextAsync(tokenFile, token, ct);
        hq.Registry.SetStatus("test", "mbx-d", SlotStatus.Retired, "test");
        var (poorCode, _, poorError) = await RunAsync(["group", "create", "--network", genesis, "--hq", endpoint, "--hq-token-file", tokenFile, "--dir", c, "--json"], ct);
        Assert.That(poorCode, Is.EqualTo(1));
        Assert.That(poorError, Does.Contain("allocation-failed"));
        Assert.That(GroupStore.Exists(c), Is.False);
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(string[] args, CancellationToken ct)
    {
        var output = new LineWriter();
        var error = new LineWriter();
        var code = await LineWriter.InvokeAsync(GroupCommands.Create(), args, output, error, ct);
        return (code, output.Text.Trim(), error.Text);
    }
}
