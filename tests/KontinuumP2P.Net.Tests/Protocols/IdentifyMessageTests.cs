using System.IO.Pipelines;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Protocols;

namespace KontinuumP2P.Net.Tests.Protocols;

[TestFixture]
[CancelAfter(10_000)]
public sealed class IdentifyMessageTests
{
    [Test]
    public void Round_trips_every_field_and_strips_p2p_from_listen_addresses()
    {
        using var identity = Ed25519Identity.Generate();
        var message = new IdentifyMessage(
            identity.EncodedPublicKey,
            [Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001").WithPeerId(identity.PeerId), Multiaddr.Parse("/ip6/::1/tcp/4002")],
            ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"],
            Multiaddr.Parse("/ip4/10.0.0.1/tcp/5555"),
            IdentifyProtocol.ProtocolVersion,
            "kontinuum/0.1.0");
        var decoded = IdentifyMessage.Decode(message.Encode());
        Assert.That(decoded.PublicKey!.Value.ToArray(), Is.EqualTo(identity.EncodedPublicKey));
        Assert.That(decoded.ListenAddresses!.Select(a => a.ToString()), Is.EqualTo(new[] { "/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/4002" }));
        Assert.That(decoded.Protocols, Is.EqualTo(message.Protocols));
        Assert.That(decoded.ObservedAddress, Is.EqualTo(message.ObservedAddress));
        Assert.That(decoded.ProtocolVersion, Is.EqualTo("ipfs/0.1.0"));
        Assert.That(decoded.AgentVersion, Is.EqualTo("kontinuum/0.1.0"));
        Assert.That(decoded.SignedPeerRecord, Is.Null);
    }

    [Test]
    public void Field_numbers_match_the_libp2p_schema()
    {
        var bytes = new IdentifyMessage(new byte[] { 0xAA }, null, ["/p"], null, "v", "a").Encode();
        // 0a=publicKey(1), 1a=protocols(3), 2a=protocolVersion(5), 32=agentVersion(6); proto order by field number.
        Assert.That(Convert.ToHexString(bytes), Is.EqualTo("0A01AA1A022F702A01763201" + "61"));
    }

    [Test]
    public void Absent_fields_stay_absent_and_merge_keeps_earlier_values()
    {
        var partial = IdentifyMessage.Decode(new IdentifyMessage(null, null, ["/new"], null, null, null).Encode());
        Assert.That(partial.PublicKey, Is.Null);
        Assert.That(partial.ListenAddresses, Is.Null);
        var earlier = new IdentifyMessage(new byte[] { 1 }, [], ["/old"], null, "ipfs/0.1.0", "x");
        var merged = earlier.MergeWith(partial);
        Assert.That(merged.Protocols, Is.EqualTo(new[] { "/new" }));
        Assert.That(merged.AgentVersion, Is.EqualTo("x"));
    }

    [Test]
    public void Unknown_address_codes_are_skipped_not_fatal()
    {
        // field 2 (listenAddrs) = 0x12, len 2, an unknown multiaddr code 0x7f + junk; then a valid one.
        byte[] wire = [0x12, 0x02, 0x7f, 0x00, 0x12, 0x08, .. Multiaddr.Parse("/ip4/1.2.3.4/tcp/1").ToBytes()];
        var decoded = IdentifyMessage.Decode(wire);
        Assert.That(decoded.ListenAddresses!.Select(a => a.ToString()), Is.EqualTo(new[] { "/ip4/1.2.3.4/tcp/1" }));
    }

    [Test]
    public void Oversized_and_malformed_messages_are_refused()
    {
        Assert.That(() => IdentifyMessage.Decode(new byte[IdentifyMessage.MaxLength + 1]), Throws.InstanceOf<InvalidDataException>());
        Assert.That(() => IdentifyMessage.Decode([0x0a, 0x05, 0x01]), Throws.InstanceOf<InvalidDataException>());
        var huge = new IdentifyMessage(null, null, Enumerable.Range(0, 1000).Select(i => $"/protocol/{i}").ToList(), null, null, null);
        Assert.That(() => huge.Encode(), Throws.InvalidOperationException);
    }

    [Test]
    public async Task Reader_merges_several_messages_until_fin_and_caps_the_count(CancellationToken ct)
    {
        var pipe = new Pipe();
        await LengthPrefixed.WriteAsync(pipe.Writer, new IdentifyMessage(null, null, ["/a"], null, null, "first").Encode(), ct);
        await LengthPrefixed.WriteAsync(pipe.Writer, new IdentifyMessage(null, null, ["/b"], null, null, null).Encode(), ct);
        await pipe.Writer.CompleteAsync();
        var merged = await IdentifyProtocol.ReadAsync(pipe.Reader, ct);
        Assert.That(merged.Protocols, Is.EqualTo(new[] { "/b" }));
        Assert.That(merged.AgentVersion, Is.EqualTo("first"));

        // Exactly the cap, then FIN, is accepted (it was refused before: the reader never looked for the end).
        var full = new Pipe();
        for (var i = 0; i < IdentifyMessage.MaxMessagesPerStream; i++)
            await LengthPrefixed.WriteAsync(full.Writer, new IdentifyMessage(null, null, null, null, null, $"v{i}").Encode(), ct);
        await full.Writer.CompleteAsync();
        Assert.That((await IdentifyProtocol.ReadAsync(full.Reader, ct)).AgentVersion, Is.EqualTo($"v{IdentifyMessage.MaxMessagesPerStream - 1}"));

        var flood = new Pipe();
        for (var i = 0; i <= IdentifyMessage.MaxMessagesPerStream; i++)
            await LengthPrefixed.WriteAsync(flood.Writer, new IdentifyMessage(null, null, null, null, null, "x").Encode(), ct);
        await flood.Writer.CompleteAsync();
        Assert.That(async () => await IdentifyProtocol.ReadAsync(flood.Reader, ct), Throws.InstanceOf<InvalidDataException>());

        var oversized = new Pipe();
        await oversized.Writer.WriteAsync(Varint.Encode(IdentifyMessage.MaxLength + 1), ct);
        Assert.That(async () => await IdentifyProtocol.ReadAsync(oversized.Reader, ct), Throws.InstanceOf<InvalidDataException>());
    }
}
