using Google.Protobuf;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Dht.Protos;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Rpc;

public sealed class KadMessageCodecTests
{
    [Test]
    public void A_message_survives_the_round_trip()
    {
        var peers = TestPeers.Create(3, seed: 1);
        var time = new DateTimeOffset(2026, 11, 23, 10, 0, 1, 123, TimeSpan.Zero).AddTicks(4567);
        var message = new KadMessage(KadMessageType.GetValue, "/pk/abc"u8.ToArray(),
            new DhtRecord("/pk/abc"u8.ToArray(), new byte[] { 1, 2, 3 }, time),
            [new KadPeer(peers[0], [Multiaddr.Parse("/ip4/1.2.3.4/tcp/4001"), Multiaddr.Parse("/memory/x")])],
            [new KadPeer(peers[1], [])]);
        var decoded = KadMessageCodec.Decode(KadMessageCodec.Encode(message));
        Assert.Multiple(() =>
        {
            Assert.That(decoded.Type, Is.EqualTo(KadMessageType.GetValue));
            Assert.That(decoded.Key.ToArray(), Is.EqualTo(message.Key.ToArray()));
            Assert.That(decoded.Record!.Value.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));
            Assert.That(decoded.Record.TimeReceived, Is.EqualTo(time));
            Assert.That(decoded.CloserPeers.Single().PeerId, Is.EqualTo(peers[0]));
            Assert.That(decoded.CloserPeers.Single().Addresses, Is.EqualTo(message.CloserPeers[0].Addresses));
            Assert.That(decoded.ProviderPeers.Single().PeerId, Is.EqualTo(peers[1]));
        });
    }

    [Test]
    public void An_answer_naming_thousands_of_peers_is_read_up_to_the_cap()
    {
        var peers = TestPeers.Create(2_000, seed: 31).Select(p => new KadPeer(p, [Multiaddr.Parse("/ip4/192.0.2.1/tcp/4001")])).ToList();
        var flood = new KadMessage(KadMessageType.FindNode, "k"u8.ToArray(), null, peers, peers);
        var decoded = KadMessageCodec.Decode(KadMessageCodec.Encode(flood));
        Assert.Multiple(() =>
        {
            Assert.That(decoded.CloserPeers, Has.Count.EqualTo(KadMessageCodec.MaxPeersPerAnswer));
            Assert.That(decoded.ProviderPeers, Has.Count.EqualTo(KadMessageCodec.MaxPeersPerAnswer));
            Assert.That(decoded.CloserPeers.Select(p => p.PeerId), Is.EqualTo(peers.Take(KadMessageCodec.MaxPeersPerAnswer).Select(p => p.PeerId)));
        });
    }

    [Test]
    public void Put_value_is_type_zero_and_omitted_on_the_wire()
    {
        var bytes = KadMessageCodec.Encode(KadMessage.Request(KadMessageType.PutValue, new byte[] { 7 }));
        Assert.That(bytes, Is.EqualTo(new byte[] { 0x12, 0x01, 0x07 }), "only field 2 (key) is present");
        Assert.That(KadMessageCodec.Decode(bytes).Type, Is.EqualTo(KadMessageType.PutValue));
    }

    [Test]
    public void Times_use_rfc3339_with_nanoseconds_and_accept_go_and_js_forms()
    {
        var time = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1234567);
        Assert.That(KadMessageCodec.FormatTime(time), Is.EqualTo("2026-01-02T03:04:05.123456700Z"));
        Assert.That(KadMessageCodec.ParseTime("2026-01-02T03:04:05.123456789Z"), Is.EqualTo(time));
        Assert.That(KadMessageCodec.ParseTime("2026-01-02T03:04:05Z"), Is.EqualTo(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)));
        Assert.That(KadMessageCodec.ParseTime("yesterday"), Is.Null);
    }

    [Test]
    public void Unknown_fields_and_bad_peers_are_skipped_but_garbage_is_refused()
    {
        var good = TestPeers.Create(1, seed: 2)[0];
        var proto = new Message { Type = Message.Types.MessageType.FindNode, ClusterLevelRaw = 0, Key = ByteString.CopyFrom(1, 2) };
        proto.CloserPeers.Add(new Message.Types.Peer { Id = ByteString.CopyFrom(0xff, 0x01) });
        var peer = new Message.Types.Peer { Id = ByteString.CopyFrom(good.Bytes) };
        peer.Addrs.Add(ByteString.CopyFrom(0xfe, 0xff, 0x7f)); // unknown multiaddr code
        peer.Addrs.Add(ByteString.CopyFrom(Multiaddr.Parse("/ip4/10.0.0.1/tcp/1").ToBytes()));
        proto.CloserPeers.Add(peer);
        // Field 3 of Record (author, removed from the spec) must be ignored.
        var bytes = proto.ToByteArray().Concat(new byte[] { 0x1a, 0x03, 0x1a, 0x01, 0x41 }).ToArray();

        var decoded = KadMessageCodec.Decode(bytes);
        Assert.That(decoded.CloserPeers.Select(p => p.PeerId), Is.EqualTo(new[] { good }));
        Assert.That(decoded.CloserPeers[0].Addresses.Select(a => a.ToString()), Is.EqualTo(new[] { "/ip4/10.0.0.1/tcp/1" }));
        Assert.That(decoded.Record, Is.Not.Null);

        Assert.Throws<InvalidDataException>(() => KadMessageCodec.Decode(new byte[] { 0x08, 0x63 }), "type 99");
        Assert.Throws<InvalidDataException>(() => KadMessageCodec.Decode(new byte[] { 0x12, 0x10, 0x01 }), "truncated");
    }

    [Test]
    public void Responses_are_trimmed_under_16_KiB_by_dropping_the_farthest_peers()
    {
        var peers = TestPeers.Create(20, seed: 3);
        var manyAddresses = Enumerable.Range(0, 16).Select(i => Multiaddr.Parse($"/dns4/host-{i}-{new string('a', 60)}.example/tcp/{i + 1}")).ToList();
        var message = new KadMessage(KadMessageType.FindNode, new byte[] { 1 }, null, [.. peers.Select(p => new KadPeer(p, manyAddresses))], []);
        Assert.That(KadMessageCodec.Encode(message), Has.Length.GreaterThan(KadMessageCodec.TargetResponseSize));

        var trimmed = KadMessageCodec.Decode(KadMessageCodec.EncodeTrimmed(message));
        Assert.That(KadMessageCodec.EncodeTrimmed(message), Has.Length.LessThanOrEqualTo(KadMessageCodec.TargetResponseSize));
        Assert.That(trimmed.CloserPeers.Select(p => p.PeerId), Is.EqualTo(peers.Take(trimmed.CloserPeers.Count)), "the closest (first) peers stay");
        Assert.That(trimmed.CloserPeers, Has.Count.GreaterThan(5));
    }
}
