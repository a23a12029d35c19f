using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Simulations.Network;

namespace KontinuumP2P.Simulations.Tests.Network;

/// <summary>The object hand-over must give the receiver what the codec would, and the link model the encoded size.</summary>
public sealed class KadHandoverTests
{
    [Test]
    public void Size_and_received_message_match_the_codec_for_random_messages()
    {
        var random = new Random(16);
        for (var i = 0; i < 2_000; i++)
        {
            var message = RandomMessage(random);
            var bytes = KadMessageCodec.Encode(message);
            Assert.That(KadHandover.WireSize(message), Is.EqualTo(bytes.Length), $"message {i}: {Describe(message)}");
            AssertSame(KadHandover.AsReceived(message), KadMessageCodec.Decode(bytes), $"message {i}");
        }
    }

    [Test]
    public void A_message_the_decoder_would_not_change_is_handed_over_as_is()
    {
        var peer = new KadPeer(Peer(new Random(1)), [Multiaddr.Parse("/ip4/10.0.0.1/tcp/4001")]);
        var message = new KadMessage(KadMessageType.FindNode, new byte[] { 1, 2 }, null, [peer], []);
        Assert.That(KadHandover.AsReceived(message), Is.SameAs(message));
        var withP2p = message with { CloserPeers = [peer with { Addresses = [peer.Addresses[0].WithPeerId(peer.PeerId)] }] };
        var received = KadHandover.AsReceived(withP2p);
        Assert.That(received, Is.Not.SameAs(withP2p));
        Assert.That(received.CloserPeers[0].Addresses[0], Is.EqualTo(peer.Addresses[0]));
        Assert.That(withP2p.CloserPeers[0].Addresses[0].PeerId, Is.EqualTo(peer.PeerId), "the sender's message is not modified");
    }

    private static KadMessage RandomMessage(Random random)
    {
        var type = (KadMessageType)random.Next(0, 6);
        var key = new byte[random.Next(4) switch { 0 => 0, 1 => 38, 2 => random.Next(1, 200), _ => random.Next(100, 400) }];
        random.NextBytes(key);
        DhtRecord? record = null;
        if (random.Next(3) == 0)
        {
            var value = new byte[random.Next(3) == 0 ? 0 : random.Next(1, 3000)];
            random.NextBytes(value);
            DateTimeOffset? time = random.Next(3) switch
            {
                0 => null,
                1 => new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(random.NextInt64(0, TimeSpan.TicksPerDay * 400)),
                _ => new DateTimeOffset(2030, 1, 1, 5, 0, 0, TimeSpan.FromHours(random.Next(-12, 13))).AddTicks(random.NextInt64(0, TimeSpan.TicksPerDay)),
            };
            record = new DhtRecord(key, value, time);
        }
        return new KadMessage(type, key, record, Peers(random, random.Next(3) == 0 ? random.Next(0, 60) : random.Next(0, 21)), Peers(random, random.Next(4) == 0 ? random.Next(1, 5) : 0));
    }

    private static List<KadPeer> Peers(Random random, int count)
    {
        var list = new List<KadPeer>();
        for (var i = 0; i < count; i++)
        {
            var peer = Peer(random);
            var addresses = new List<Multiaddr>();
            var n = random.Next(5) == 0 ? random.Next(0, 25) : 1;
            for (var a = 0; a < n; a++)
            {
                var address = Multiaddr.Parse($"/ip4/10.{random.Next(256)}.{random.Next(256)}.{random.Next(256)}/tcp/{random.Next(1, 65536)}");
                addresses.Add(random.Next(4) == 0 ? address.WithPeerId(peer) : address);
            }
            // A node's own attached list (as the simulator hands out) carries its sizes: named with it by its owner, or
            // by a node claiming someone else's list.
            IReadOnlyList<Multiaddr> named = random.Next(3) == 0
                ? new CanonicalAddresses(random.Next(2) == 0 ? peer : HashedPeer(random), i, [.. addresses])
                : addresses;
            list.Add(new KadPeer(peer, named));
        }
        return list;
    }

    /// <summary>A peer id of another length than <see cref="Peer"/>'s (a SHA-256 multihash, as for RSA keys).</summary>
    private static PeerId HashedPeer(Random random)
    {
        var multihash = new byte[34];
        random.NextBytes(multihash);
        (multihash[0], multihash[1]) = (0x12, 0x20);
        return PeerId.FromBytes(multihash);
    }

    private static PeerId Peer(Random random)
    {
        var key = new byte[32];
        random.NextBytes(key);
        return PeerId.FromEncodedPublicKey(PublicKeyEncoding.Encode(KeyType.Ed25519, key));
    }

    private static void AssertSame(KadMessage actual, KadMessage expected, string what)
    {
        Assert.That(actual.Type, Is.EqualTo(expected.Type), what);
        Assert.That(actual.Key.ToArray(), Is.EqualTo(expected.Key.ToArray()), what);
        Assert.That(actual.Record is null, Is.EqualTo(expected.Record is null), what);
        if (actual.Record is { } r && expected.Record is { } e)
        {
            Assert.That(r.Key.ToArray(), Is.EqualTo(e.Key.ToArray()), what);
            Assert.That(r.Value.ToArray(), Is.EqualTo(e.Value.ToArray()), what);
            Assert.That(r.TimeReceived, Is.EqualTo(e.TimeReceived), what);
            Assert.That(r.TimeReceived?.Offset, Is.EqualTo(e.TimeReceived?.Offset), what);
        }
        AssertSame(actual.CloserPeers, expected.CloserPeers, what + " closer");
        AssertSame(actual.ProviderPeers, expected.ProviderPeers, what + " providers");
    }

    private static void AssertSame(IReadOnlyList<KadPeer> actual, IReadOnlyList<KadPeer> expected, string what)
    {
        Assert.That(actual, Has.Count.EqualTo(expected.Count), what);
        for (var i = 0; i < actual.Count; i++)
        {
            Assert.That(actual[i].PeerId, Is.EqualTo(expected[i].PeerId), what);
            Assert.That(actual[i].Addresses.Select(a => a.ToString()), Is.EqualTo(expected[i].Addresses.Select(a => a.ToString())), what);
        }
    }

    private static string Describe(KadMessage m) =>
        $"{m.Type} key {m.Key.Length} record {m.Record?.Value.Length} closer {m.CloserPeers.Count} providers {m.ProviderPeers.Count}";
}
