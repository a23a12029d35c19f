using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Mailbox.Tests.Client;

/// <summary>
/// Following a split slot against real servers (TCP 127.0.0.1, SQLite), servers a..f on providers 0..5. Two groups
/// share slot mbx-a; group 1 also uses b and c, group 2 uses d and e. Server a stops and HQ's record for mbx-a becomes
/// a split over b (provider 1), d (provider 3) and f (provider 5). Each group's client takes the first node whose
/// provider its other mailboxes do not use (from their certificates): group 1 lands on d, group 2 on b, and each is
/// back on 3 mailboxes on 3 providers and re-seeds its new node.
/// </summary>
[NonParallelizable]
public sealed class SplitSlotFollowingTests
{
    private readonly List<string> _dirs = [];
    private readonly List<IDisposable> _stores = [];

    [TearDown]
    public void TearDown()
    {
        foreach (var store in _stores) store.Dispose();
        _stores.Clear();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var dir in _dirs.Where(Directory.Exists)) Directory.Delete(dir, recursive: true);
        _dirs.Clear();
    }

    private GroupStore Store(GroupSecret secret, IReadOnlyList<string> slots)
    {
        var dir = Path.Combine(Path.GetTempPath(), "kp-split-" + Guid.NewGuid().ToString("N"));
        _dirs.Add(dir);
        var store = GroupStore.Create(dir, secret, "test", slots, 1);
        _stores.Add(store);
        return store;
    }

    private static readonly GroupHealthOptions Fast = new()
    {
        Interval = TimeSpan.FromMilliseconds(200),
        FirstReportInterval = TimeSpan.FromSeconds(1),
        MaxReportInterval = TimeSpan.FromSeconds(2),
        ReseedBlobsPerSecond = 2000,
    };

    [Test]
    [CancelAfter(120_000)]
    public async Task Two_groups_follow_one_split_slot_each_to_the_provider_it_does_not_use(CancellationToken ct)
    {
        await using var fleet = await MailboxFleet.StartAsync(6);
        using var hq = Ed25519Identity.Generate();
        var hqCert = fleet.Issue(hq, ["dht", SlotRecord.HqCapability], "hq");
        var resolver = new SlotRecordResolver(fleet);
        for (var i = 0; i < 6; i++) resolver.Publish(SlotRecord.Create(fleet.Servers[i].Slot, fleet.Servers[i].PeerId, 1, DateTimeOffset.UtcNow, hqCert, hq));
        using var secret1 = GroupSecret.Generate();
        using var secret2 = GroupSecret.Generate();
        var store1 = Store(secret1, ["mbx-a", "mbx-b", "mbx-c"]);
        var store2 = Store(secret2, ["mbx-a", "mbx-d", "mbx-e"]);
        var options = MailboxFleet.FastOptions with { RequiredAcks = 3 };
        await using var group1 = new GroupClient(store1, await fleet.ClientHostAsync(), resolver, fleet.Verifier, options);
        await using var group2 = new GroupClient(store2, await fleet.ClientHostAsync(), resolver, fleet.Verifier, options);
        var schedule1 = new ReportSchedule(Fast.FirstReportInterval, Fast.MaxReportInterval);
        var schedule2 = new ReportSchedule(Fast.FirstReportInterval, Fast.MaxReportInterval);
        foreach (var (client, name) in new[] { (group1, "one"), (group2, "two") })
        {
            for (var i = 0; i < 5; i++) await client.PushAsync(System.Text.Encoding.UTF8.GetBytes($"{name}-before-{i}"), ct);
            Assert.That((await client.FlushAsync(all: true, ct)).Remaining, Is.Zero);
        }
        Assert.That((await group1.HealthRoundAsync(Fast, schedule1, ct)).Unreachable, Is.Zero);
        Assert.That((await group2.HealthRoundAsync(Fast, schedule2, ct)).Unreachable, Is.Zero);

        await fleet.Servers[0].StopAsync();
        // Pushes during the outage find mbx-a dead (and wait in its outbox until the slot has a node again).
        foreach (var (client, name) in new[] { (group1, "one"), (group2, "two") })
            for (var i = 0; i < 2; i++) await client.PushAsync(System.Text.Encoding.UTF8.GetBytes($"{name}-during-{i}"), ct);
        Assert.That((await group1.HealthRoundAsync(Fast, schedule1, ct)).Unreachable, Is.EqualTo(1));
        Assert.That((await group2.HealthRoundAsync(Fast, schedule2, ct)).Unreachable, Is.EqualTo(1));

        // HQ's split: one node per surviving provider, in this order.
        SlotNode Node(int server) => new(fleet.Servers[server].PeerId, $"provider-{server}");
        resolver.Publish(SlotRecord.CreateSplit("mbx-a", [Node(1), Node(3), Node(5)], 2, DateTimeOffset.UtcNow, hqCert, hq));

        var moved1 = await group1.HealthRoundAsync(Fast, schedule1, ct);
        var moved2 = await group2.HealthRoundAsync(Fast, schedule2, ct);
        Assert.That((moved1.Unreachable, moved1.NewReseeds), Is.EqualTo((0, 1)));
        Assert.That((moved2.Unreachable, moved2.NewReseeds), Is.EqualTo((0, 1)));
        Assert.That(store1.ReseedJobs().Single().Target, Is.EqualTo(fleet.Servers[3].PeerId.ToString()), "group 1 (providers 1, 2) takes provider 3");
        Assert.That(store2.ReseedJobs().Single().Target, Is.EqualTo(fleet.Servers[1].PeerId.ToString()), "group 2 (providers 3, 4) takes provider 1");

        // Each group is whole again: a push is acknowledged by 3 mailboxes, and the re-seed fills the new node.
        foreach (var (client, name) in new[] { (group1, "one"), (group2, "two") })
        {
            await client.PushAsync(System.Text.Encoding.UTF8.GetBytes($"{name}-after"), ct);
            Assert.That((await client.FlushAsync(all: true, ct)).Remaining, Is.Zero);
            Assert.That(await client.ReseedAsync(Fast, ct), Is.EqualTo(5), "the 5 blobs from before the failure (the outbox brought the rest)");
        }
        Assert.That(store1.ReseedJobs(), Is.Empty);
        Assert.That(store2.ReseedJobs(), Is.Empty);
    }
}
