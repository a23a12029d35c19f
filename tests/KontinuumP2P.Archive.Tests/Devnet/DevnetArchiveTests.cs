using KontinuumP2P.Devnet;

namespace KontinuumP2P.Archive.Tests.Devnet;

/// <summary>The devnet runs archive holders: the replica's pusher packs the demo group's blobs to them on 3 providers.</summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class DevnetArchiveTests
{
    [Test]
    public async Task The_devnet_pushes_packs_to_holders_of_three_providers_and_reports_them(CancellationToken ct)
    {
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 5 }, ct);
        var placed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        devnet.Nodes[0].ArchivePusher!.PackArchived += _ => placed.TrySetResult();
        // Lookup rounds push demo blobs (bounded: at most 30 rounds) until the first pack is confirmed by every sink.
        DevnetStatus status = null!;
        for (var round = 0; round < 30 && !placed.Task.IsCompleted; round++) status = await devnet.RunLookupRoundAsync(ct);
        await placed.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
        status = await devnet.RunLookupRoundAsync(ct);
        Assert.That(status.Archive!.Packs, Is.GreaterThan(0));
        Assert.That(status.Holders.Select(h => h.Provider), Is.EquivalentTo(new[] { "devnet-b", "devnet-c", "devnet-h3", "devnet-h4" }));
        Assert.That(status.Holders.Count(h => h.Bytes > 0), Is.GreaterThanOrEqualTo(3), "each pack sits on 3 holders of distinct providers");
        Assert.That(devnet.Nodes[0].ArchiveReplicator, Is.Not.Null, "the peers sink's re-replication loop runs beside the pusher");
    }
}
