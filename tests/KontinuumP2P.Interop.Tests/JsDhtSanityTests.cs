using System.Text;
using KontinuumP2P.Testing.JsHarness;

namespace KontinuumP2P.Interop.Tests;

/// <summary>
/// A three-peer js kad-dht through the harness (server mode, loopback addresses kept, the <c>/test/</c> validator and
/// selector): the DHT commands that the C# DHT interop tests rely on work before our DHT is put beside them.
/// </summary>
[TestFixture]
[Category("Interop")]
[CancelAfter(120_000)]
public sealed class JsDhtSanityTests
{
    [TestCase("/ipfs/kad/1.0.0")]
    [TestCase("/kontinuum/kad/1.0.0")]
    public async Task ThreeJsPeers_PutGetProvideFind(string kadProtocol, CancellationToken cancellationToken)
    {
        var options = new JsPeerOptions { Dht = true, KadProtocol = kadProtocol };
        await using var hub = await JsPeer.StartAsync(options, cancellationToken);
        await using var writer = await JsPeer.StartAsync(options, cancellationToken);
        await using var reader = await JsPeer.StartAsync(options, cancellationToken);
        await writer.DialAsync(hub.AddressFor("/ip4/"), cancellationToken);
        await reader.DialAsync(hub.AddressFor("/ip4/"), cancellationToken);

        var identify = await writer.IdentifyAsync(hub.PeerId, fresh: false, cancellationToken);
        Assert.That(identify.Protocols, Does.Contain(kadProtocol));
        await WaitForRoutingTableAsync(hub, 2, cancellationToken);
        await WaitForRoutingTableAsync(writer, 1, cancellationToken);
        await WaitForRoutingTableAsync(reader, 1, cancellationToken);

        var key = $"/test/{Guid.NewGuid():N}";
        Assert.That(await writer.DhtPutAsync(key, JsPeer.TestRecordValue(5, "five"), cancellationToken), Is.GreaterThan(0));
        var found = await reader.DhtGetAsync(key, cancellationToken);
        Assert.That(Encoding.UTF8.GetString(found.Value), Is.EqualTo("5 five"));

        // The /test/ validator refuses a value without a leading sequence number: no remote peer stores it.
        Assert.That(await writer.DhtPutAsync($"/test/{Guid.NewGuid():N}", "no number"u8.ToArray(), cancellationToken),
            Is.Zero);

        var content = $"kontinuum-{Guid.NewGuid():N}";
        await writer.ProvideAsync(content, cancellationToken);
        var providers = await reader.ProvidersAsync(content, cancellationToken);
        Assert.That(providers.Select(p => p.PeerId), Does.Contain(writer.PeerId));

        var writerInfo = await reader.FindPeerAsync(writer.PeerId, cancellationToken);
        Assert.That(writerInfo.Addrs, Is.Not.Empty);
    }

    private static async Task WaitForRoutingTableAsync(JsPeer peer, int size, CancellationToken cancellationToken)
    {
        // js admits a peer after identify and a ping; poll briefly rather than sleep a fixed time.
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (await peer.RoutingTableSizeAsync(cancellationToken) >= size) return;
            await Task.Delay(100, cancellationToken);
        }
        Assert.Fail($"js routing table of {peer.PeerId} stayed below {size} peers\n{peer.StderrTail}");
    }
}
