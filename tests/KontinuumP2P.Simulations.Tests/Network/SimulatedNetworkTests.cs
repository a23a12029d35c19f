using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Simulations.Network;
using KontinuumP2P.Simulations.Peers;
using KontinuumP2P.Simulations.Time;

namespace KontinuumP2P.Simulations.Tests.Network;

public sealed class SimulatedNetworkTests
{
    private static readonly LinkModel Links = new()
    {
        MinLatency = TimeSpan.FromMilliseconds(20),
        MaxLatency = TimeSpan.FromMilliseconds(80),
        Jitter = TimeSpan.FromMilliseconds(5),
        BandwidthBitsPerSecond = 1_000_000,
        Seed = 7,
    };

    [Test]
    public async Task A_request_takes_the_link_latency_both_ways_and_goes_through_the_codec()
    {
        var (time, network, a, b) = Pair(Links, codec: true);
        b.StartServing((from, request, _) => ValueTask.FromResult<KadMessage?>(request with { CloserPeers = [new KadPeer(from, a.LocalAddresses)] }));
        TimeSpan rtt = default;
        KadMessage? answer = null;
        await new SimulationDriver(time).RunAsync(async () =>
        {
            answer = await a.SendAsync(b.LocalPeer, KadMessage.Request(KadMessageType.FindNode, b.LocalPeer.ToByteArray()), CancellationToken.None).ConfigureAwait(false);
            rtt = time.Elapsed;
        }, TimeSpan.FromHours(1), 1000, CancellationToken.None);
        Assert.That(answer!.CloserPeers.Single().PeerId, Is.EqualTo(a.LocalPeer));
        // Two one-way trips, each the link's base (20..80 ms) plus jitter (≤ 5 ms) plus a few bytes at 1 Mbit/s.
        Assert.That(rtt, Is.InRange(TimeSpan.FromMilliseconds(40), TimeSpan.FromMilliseconds(175)));
        Assert.That(network.MessagesDelivered, Is.EqualTo(2));
    }

    [Test]
    public async Task Lost_messages_end_in_the_senders_timeout_and_the_share_follows_the_loss_rate()
    {
        var (time, network, a, b) = Pair(Links with { Loss = 0.3 });
        b.StartServing((_, request, _) => ValueTask.FromResult<KadMessage?>(request));
        var answered = 0;
        var timedOut = 0;
        await new SimulationDriver(time).RunAsync(async () =>
        {
            for (var i = 0; i < 400; i++)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1), time);
                try
                {
                    await a.SendAsync(b.LocalPeer, KadMessage.Request(KadMessageType.FindNode, new byte[] { 1, 2, 3 }), timeout.Token).ConfigureAwait(false);
                    answered++;
                }
                catch (OperationCanceledException)
                {
                    timedOut++;
                }
            }
        }, TimeSpan.FromDays(1), 100_000, CancellationToken.None);
        // A round trip survives with probability 0.7² = 0.49.
        Assert.That(answered + timedOut, Is.EqualTo(400));
        Assert.That(answered, Is.InRange(150, 240));
        Assert.That(network.MessagesDropped, Is.EqualTo(timedOut));
    }

    [Test]
    public async Task A_partition_drops_messages_until_it_heals_and_a_departed_node_is_unreachable()
    {
        var (time, network, a, b) = Pair(Links);
        b.StartServing((_, request, _) => ValueTask.FromResult<KadMessage?>(request));
        var outcomes = new List<string>();
        async Task TryOnce()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1), time);
            try
            {
                await a.SendAsync(b.LocalPeer, KadMessage.Request(KadMessageType.FindNode, new byte[] { 1 }), timeout.Token).ConfigureAwait(false);
                outcomes.Add("answered");
            }
            catch (OperationCanceledException)
            {
                outcomes.Add("timeout");
            }
            catch (IOException)
            {
                outcomes.Add("unreachable");
            }
        }
        await new SimulationDriver(time).RunAsync(async () =>
        {
            network.SetPartition(index => index == b.Index ? 1 : 0);
            await TryOnce().ConfigureAwait(false);
            network.SetPartition(null);
            await TryOnce().ConfigureAwait(false);
            network.Detach(b.LocalPeer);
            await TryOnce().ConfigureAwait(false);
        }, TimeSpan.FromHours(1), 1000, CancellationToken.None);
        Assert.That(outcomes, Is.EqualTo(new[] { "timeout", "answered", "unreachable" }));
    }

    [Test]
    public void Link_draws_are_a_pure_function_of_seed_and_message()
    {
        var delay = Links.Delay(3, 9, 42, 100);
        Assert.That(Links.Delay(3, 9, 42, 100), Is.EqualTo(delay));
        Assert.That(Links with { Seed = 8 }, Is.Not.EqualTo(Links));
        Assert.That(Enumerable.Range(0, 50).Select(i => (Links with { Seed = 8 }).Delay(3, 9, i, 100)),
            Is.Not.EqualTo(Enumerable.Range(0, 50).Select(i => Links.Delay(3, 9, i, 100))));
        // The base part is symmetric.
        var noJitter = Links with { Jitter = TimeSpan.Zero };
        Assert.That(noJitter.Delay(3, 9, 1, 0), Is.EqualTo(noJitter.Delay(9, 3, 5, 0)));
    }

    [Test]
    public void The_address_book_keeps_the_last_list_learnt_whether_the_real_one_or_another()
    {
        var (_, network, a, b) = Pair(Links);
        using var kc = SimulatedAuthority.NodeIdentity(1, 2);
        var c = network.Attach(200, new PeerCredentials(kc.PeerId, kc.PublicKey, null), PeerFactory.AddressOf(200), DhtOptions.KontinuumProtocolId);
        using var stranger = SimulatedAuthority.NodeIdentity(1, 3); // never attached
        var other = new[] { Core.Addressing.Multiaddr.Parse("/ip4/192.0.2.1/tcp/1") };
        var real = new[] { PeerFactory.AddressOf(200) }; // an equal copy of c's real address, not the same list
        using (Assert.EnterMultipleScope())
        {
            Assert.That(a.GetAddresses(c.LocalPeer), Is.Empty);
            a.AddAddresses(c.LocalPeer, real);
            Assert.That(a.GetAddresses(c.LocalPeer), Is.SameAs(c.LocalAddresses), "the real address is shared, not copied");
            Assert.That(b.GetAddresses(c.LocalPeer), Is.Empty, "each node has its own book");
            a.AddAddresses(c.LocalPeer, other);
            Assert.That(a.GetAddresses(c.LocalPeer), Is.EqualTo(other), "a different list replaces the real one");
            a.AddAddresses(c.LocalPeer, []);
            Assert.That(a.GetAddresses(c.LocalPeer), Is.EqualTo(other), "an empty list changes nothing");
            a.AddAddresses(c.LocalPeer, real);
            Assert.That(a.GetAddresses(c.LocalPeer), Is.SameAs(c.LocalAddresses), "and the real one replaces it again");
            a.AddAddresses(stranger.PeerId, other);
            a.AddAddresses(b.LocalPeer, b.LocalAddresses);
            Assert.That(a.GetAddresses(stranger.PeerId), Is.EqualTo(other));
            Assert.That(a.KnownAddresses, Is.EqualTo(3));
            network.Detach(c.LocalPeer);
            Assert.That(a.GetAddresses(c.LocalPeer), Is.SameAs(c.LocalAddresses), "a departed node's address stays known");
        }
    }

    [Test]
    public void A_node_attached_again_elsewhere_is_no_longer_known_at_its_earlier_list()
    {
        // Address books take a node's own list without a look-up while it is current; once the node is attached again
        // with a new list, the earlier one is an ordinary list learnt from someone.
        var (_, network, a, b) = Pair(Links);
        using var kc = SimulatedAuthority.NodeIdentity(1, 2);
        var credentials = new PeerCredentials(kc.PeerId, kc.PublicKey, null);
        var first = network.Attach(200, credentials, PeerFactory.AddressOf(200), DhtOptions.KontinuumProtocolId);
        a.AddAddresses(kc.PeerId, first.LocalAddresses);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(a.GetAddresses(kc.PeerId), Is.SameAs(first.LocalAddresses));
            network.Detach(kc.PeerId);
            var second = network.Attach(201, credentials, PeerFactory.AddressOf(201), DhtOptions.KontinuumProtocolId);
            Assert.That(a.GetAddresses(kc.PeerId), Is.SameAs(second.LocalAddresses), "the book follows the node's real address");
            a.AddAddresses(kc.PeerId, first.LocalAddresses);
            Assert.That(a.GetAddresses(kc.PeerId), Is.SameAs(first.LocalAddresses), "the earlier list is kept as any other list");
            Assert.That(a.GetAddresses(kc.PeerId), Is.Not.SameAs(second.LocalAddresses));
            b.AddAddresses(kc.PeerId, second.LocalAddresses);
            Assert.That(b.GetAddresses(kc.PeerId), Is.SameAs(second.LocalAddresses));
            a.AddAddresses(kc.PeerId, second.LocalAddresses);
            Assert.That(a.GetAddresses(kc.PeerId), Is.SameAs(second.LocalAddresses), "and the current list replaces it");
        }
    }

    [Test]
    public void The_address_book_takes_and_gives_a_whole_answer_as_it_does_one_peer_at_a_time()
    {
        // The DHT hands the book an answer's peers at once (one lock per answer); the book must end as the one-by-one
        // calls leave it: own id skipped, real lists as one bit, other lists kept, empty lists ignored.
        var (_, network, a, b) = Pair(Links);
        using var kc = SimulatedAuthority.NodeIdentity(1, 2);
        using var kd = SimulatedAuthority.NodeIdentity(1, 4);
        using var stranger = SimulatedAuthority.NodeIdentity(1, 3); // never attached
        var c = network.Attach(200, new PeerCredentials(kc.PeerId, kc.PublicKey, null), PeerFactory.AddressOf(200), DhtOptions.KontinuumProtocolId);
        var d = network.Attach(201, new PeerCredentials(kd.PeerId, kd.PublicKey, null), PeerFactory.AddressOf(201), DhtOptions.KontinuumProtocolId);
        var other = new[] { Core.Addressing.Multiaddr.Parse("/ip4/192.0.2.1/tcp/1") };
        KadPeer[] answer =
        [
            new(a.LocalPeer, other), new(c.LocalPeer, c.LocalAddresses), new(d.LocalPeer, other), new(stranger.PeerId, other),
            new(b.LocalPeer, []), new(d.LocalPeer, [PeerFactory.AddressOf(201)]),
        ];
        a.AddAddresses(answer);
        foreach (var peer in answer.Where(p => p.PeerId != a.LocalPeer)) b.AddAddresses(peer.PeerId, peer.Addresses);
        PeerId[] asked = [a.LocalPeer, c.LocalPeer, d.LocalPeer, stranger.PeerId, b.LocalPeer];
        var batch = new IReadOnlyList<Core.Addressing.Multiaddr>[asked.Length + 1];
        a.GetAddresses(asked, batch);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(batch[0], Is.Empty, "our own id is not learnt");
            Assert.That(batch[1], Is.SameAs(c.LocalAddresses));
            Assert.That(batch[2], Is.SameAs(d.LocalAddresses), "the later real list replaced the other one");
            Assert.That(batch[3], Is.EqualTo(other));
            Assert.That(batch[4], Is.Empty, "an empty list is not learnt");
            Assert.That(batch[5], Is.Null, "nothing written past the peers asked for");
            for (var i = 0; i < asked.Length; i++) Assert.That(batch[i], Is.SameAs(a.GetAddresses(asked[i])), $"peer {i}: batch and single look-up agree");
            Assert.That(a.KnownAddresses, Is.EqualTo(3));
            Assert.That(b.KnownAddresses, Is.EqualTo(a.KnownAddresses), "one by one, the book ends the same");
            Assert.That(() => a.GetAddresses(asked, new IReadOnlyList<Core.Addressing.Multiaddr>[2]), Throws.ArgumentException);
        }
    }

    private static (VirtualTimeProvider, SimulatedNetwork, SimulatedEndpoint, SimulatedEndpoint) Pair(LinkModel links, bool codec = false)
    {
        var time = new VirtualTimeProvider();
        var network = new SimulatedNetwork(time, links) { Codec = codec };
        using var ka = SimulatedAuthority.NodeIdentity(1, 0);
        using var kb = SimulatedAuthority.NodeIdentity(1, 1);
        var a = network.Attach(0, new PeerCredentials(ka.PeerId, ka.PublicKey, null), PeerFactory.AddressOf(0), DhtOptions.KontinuumProtocolId);
        var b = network.Attach(1, new PeerCredentials(kb.PeerId, kb.PublicKey, null), PeerFactory.AddressOf(1), DhtOptions.KontinuumProtocolId);
        return (time, network, a, b);
    }
}
