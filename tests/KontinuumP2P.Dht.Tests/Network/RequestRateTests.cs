using System.Diagnostics;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Dht.Tests.Network;

/// <summary>A peer flooding kad requests is refused beyond its burst and rate; another peer is served meanwhile.</summary>
public sealed class RequestRateTests
{
    [Test, CancelAfter(60_000)]
    public async Task A_request_flood_stops_at_the_per_peer_rate_and_honest_peers_are_served(CancellationToken cancellationToken)
    {
        var network = new MemoryNetwork();
        using var serverKey = Ed25519Identity.Generate();
        await using var serverHost = new PeerHost(new PeerHostOptions
        {
            Identity = serverKey,
            Transports = [new MemoryTransport(network)],
            ListenAddresses = [Multiaddr.Parse("/memory/rate-server")],
        });
        await serverHost.StartAsync(cancellationToken);
        await using var server = new DhtNode(serverHost, HostCluster.Options() with { RequestBurstPerPeer = 20, RequestsPerPeerPerSecond = 1 });
        await server.StartAsync(cancellationToken);

        async Task<(PeerHost Host, HostKadNetwork Kad)> ClientAsync(Ed25519Identity key)
        {
            var host = new PeerHost(new PeerHostOptions { Identity = key, Transports = [new MemoryTransport(network)] });
            await host.StartAsync(cancellationToken);
            host.PeerStore.AddAddresses(serverHost.PeerId, serverHost.ListenAddresses, TimeSpan.FromMinutes(5));
            return (host, new HostKadNetwork(host, DhtOptions.KontinuumProtocolId, TimeSpan.FromSeconds(10)));
        }
        using var floodKey = Ed25519Identity.Generate();
        using var honestKey = Ed25519Identity.Generate();
        var (floodHost, flood) = await ClientAsync(floodKey);
        var (honestHost, honest) = await ClientAsync(honestKey);
        await using (floodHost)
        await using (honestHost)
        {
            var request = KadMessage.Request(KadMessageType.FindNode, floodKey.PeerId.ToByteArray());
            var watch = Stopwatch.StartNew();
            var answered = 0;
            for (var i = 0; i < 200; i++)
            {
                try
                {
                    if (await flood.SendAsync(serverHost.PeerId, request, cancellationToken) is not null) answered++;
                }
                catch (IOException)
                {
                    // Refused: the server reset the stream.
                }
            }
            var elapsed = watch.Elapsed;
            var honestAnswer = await honest.SendAsync(serverHost.PeerId, request, cancellationToken);
            TestContext.Out.WriteLine($"flood: {answered} of 200 answered in {elapsed.TotalMilliseconds:0} ms");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(answered, Is.GreaterThanOrEqualTo(20));
                Assert.That(answered, Is.LessThanOrEqualTo(20 + (int)Math.Ceiling(elapsed.TotalSeconds) + 1), "burst plus the refill over the elapsed time");
                Assert.That(honestAnswer, Is.Not.Null, "another peer is served meanwhile");
            }
            flood.Dispose();
            honest.Dispose();
        }
    }
}
