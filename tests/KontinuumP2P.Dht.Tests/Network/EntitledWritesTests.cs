using KontinuumP2P.Dht.Storage;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Network;

/// <summary>A PUT is acknowledged only when stored; a provider announcement counts only from an entitled peer.</summary>
public sealed class EntitledWritesTests
{
    [Test, CancelAfter(60_000)]
    public async Task A_put_is_acknowledged_only_by_servers_that_stored_it(CancellationToken cancellationToken)
    {
        await using var cluster = new HostCluster();
        var writer = await cluster.AddAsync(HostCluster.Options(), cancellationToken);
        for (var i = 0; i < 3; i++)
            await cluster.AddAsync(HostCluster.Options(), cancellationToken, new InMemoryDhtStore(new DhtStoreLimits { MaxRecordsPerPeer = 1 }));
        foreach (var node in cluster.Nodes) await node.RefreshAsync(cancellationToken);

        var first = await writer.PutValueAsync("/seq/a"u8.ToArray(), SequenceValidator.Value(5, "x"), cancellationToken);
        var overQuota = await writer.PutValueAsync("/seq/b"u8.ToArray(), SequenceValidator.Value(1, "y"), cancellationToken);
        var older = await writer.PutValueAsync("/seq/a"u8.ToArray(), SequenceValidator.Value(4, "z"), cancellationToken);
        var same = await writer.PutValueAsync("/seq/a"u8.ToArray(), SequenceValidator.Value(5, "x"), cancellationToken);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first, Is.EqualTo(3));
            Assert.That(overQuota, Is.Zero, "every server refused a second record of the same peer, and said so");
            Assert.That(older, Is.Zero, "every server holds a better record and said so");
            Assert.That(same, Is.EqualTo(3), "the same record again refreshes it");
            foreach (var server in cluster.Nodes.Skip(1)) Assert.That(server.Store.Counts.Records, Is.EqualTo(1));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Provider_announcements_from_peers_not_entitled_are_dropped(CancellationToken cancellationToken)
    {
        await using var cluster = new HostCluster();
        var outsider = await cluster.AddAsync(HostCluster.Options(), cancellationToken);
        var outsiderPeer = outsider.LocalPeer;
        using var outsiderJudged = new SemaphoreSlim(0);
        var restricted = HostCluster.Options() with
        {
            MayProvide = (peer, _) =>
            {
                if (peer != outsiderPeer) return true;
                outsiderJudged.Release();
                return false;
            },
        };
        var entitled = await cluster.AddAsync(restricted, cancellationToken);
        for (var i = 0; i < 3; i++) await cluster.AddAsync(restricted, cancellationToken);
        foreach (var node in cluster.Nodes) await node.RefreshAsync(cancellationToken);

        var refusedKey = new byte[] { 0x12, 0x20 }.Concat(Enumerable.Repeat((byte)1, 32)).ToArray();
        var allowedKey = new byte[] { 0x12, 0x20 }.Concat(Enumerable.Repeat((byte)2, 32)).ToArray();
        Assert.That(await outsider.ProvideAsync(refusedKey, cancellationToken), Is.GreaterThan(0), "announcements were sent");
        Assert.That(await entitled.ProvideAsync(allowedKey, cancellationToken), Is.GreaterThan(0));

        // Announcements have no answer: wait until the four restricted servers judged the outsider's, and until the
        // entitled one is stored.
        for (var i = 0; i < 4; i++) await outsiderJudged.WaitAsync(cancellationToken);
        var servers = cluster.Nodes.Skip(2).ToList();
        var now = DateTimeOffset.UtcNow;
        List<Core.Identity.PeerId> allowed;
        do
        {
            allowed = [];
            foreach (var server in servers)
                allowed.AddRange((await server.Store.GetProvidersAsync(allowedKey, now, 10, cancellationToken)).Select(p => p.Provider));
        }
        while (allowed.Count < servers.Count && await Delay(cancellationToken));
        var refused = new List<Core.Identity.PeerId>();
        foreach (var server in cluster.Nodes.Skip(1))
            refused.AddRange((await server.Store.GetProvidersAsync(refusedKey, now, 10, cancellationToken)).Select(p => p.Provider));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(refused, Is.Empty);
            Assert.That(allowed, Has.Count.EqualTo(servers.Count).And.All.EqualTo(entitled.LocalPeer));
        }
    }

    private static async Task<bool> Delay(CancellationToken cancellationToken)
    {
        await Task.Delay(10, cancellationToken);
        return true;
    }
}
