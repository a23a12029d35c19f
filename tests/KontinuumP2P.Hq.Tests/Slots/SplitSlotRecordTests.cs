using Google.Protobuf;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq.Tests.Slots;

/// <summary>Split slot records: one node per provider, bounded, signed, monotonic, and old single-node records unchanged.</summary>
public sealed class SplitSlotRecordTests
{
    private const string Slot = "mbx-aws-007";
    private DevnetAuthority _authority = null!;
    private TrustAnchors _anchors = null!;
    private Ed25519Identity _hq = null!;
    private KontinuumP2P.Certs.Certificates.Certificate _hqCert = null!;
    private SlotRecordValidator _validator = null!;

    [SetUp]
    public void SetUp()
    {
        _authority = new DevnetAuthority("lab", 1, 1, TimeProvider.System);
        _anchors = TrustAnchors.Create(_authority.Network.Anchors!, TimeProvider.System);
        _hq = Ed25519Identity.Generate();
        _hqCert = _authority.IssueCertificate(_hq, TimeSpan.FromDays(1), ["dht", "hq"]);
        _validator = new SlotRecordValidator(() => _anchors, null);
    }

    [TearDown]
    public void TearDown()
    {
        _hq.Dispose();
        _authority.Dispose();
    }

    private static List<SlotNode> Nodes(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new SlotNode(Ed25519Identity.Generate().PeerId, $"prov-{i}"))];

    private SlotRecord Split(ulong sequence, IReadOnlyList<SlotNode> nodes) => SlotRecord.CreateSplit(Slot, nodes, sequence, DateTimeOffset.UtcNow, _hqCert, _hq);

    // One more repeated `nodes` field (7) appended to a valid encoding: protobuf merges it into the list.
    private static byte[] WithExtraNode(byte[] encoded, PeerId node, string provider)
    {
        var inner = new MemoryStream();
        var innerOut = new CodedOutputStream(inner);
        innerOut.WriteTag(1, WireFormat.WireType.LengthDelimited);
        innerOut.WriteBytes(ByteString.CopyFrom(node.ToByteArray()));
        innerOut.WriteTag(2, WireFormat.WireType.LengthDelimited);
        innerOut.WriteString(provider);
        innerOut.Flush();
        var outer = new MemoryStream();
        outer.Write(encoded);
        var o = new CodedOutputStream(outer);
        o.WriteTag(7, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(inner.ToArray()));
        o.Flush();
        return outer.ToArray();
    }

    [Test]
    public void A_split_record_round_trips_verifies_and_picks_the_node_off_the_groups_providers()
    {
        var nodes = Nodes(3);
        var record = Split(4, nodes);
        var value = record.Encode();
        Assert.That(_validator.Validate(SlotRecord.KeyFor(Slot), value).IsValid, Is.True);
        var back = SlotRecord.Decode(value);
        Assert.That(back.IsSplit, Is.True);
        Assert.That(back.Nodes, Is.EqualTo(nodes));
        Assert.That(back.NodeId, Is.EqualTo(nodes[0].NodeId), "the first node, for clients that predate split records");
        Assert.That(back.NodeFor(["prov-0", "prov-2"]), Is.EqualTo(nodes[1].NodeId));
        Assert.That(back.NodeFor(["prov-1", "prov-2"]), Is.EqualTo(nodes[0].NodeId));
        Assert.That(back.NodeFor(["prov-0", "prov-1", "prov-2"]), Is.Null, "no node off the group's providers: none rather than a doubled provider");

        var plain = SlotRecord.Create(Slot, nodes[0].NodeId, 3, DateTimeOffset.UtcNow, _hqCert, _hq);
        Assert.That(plain.IsSplit, Is.False);
        Assert.That(plain.NodeFor(["prov-0"]), Is.EqualTo(nodes[0].NodeId), "a single-node record names its node whatever the group uses");
        Assert.That(_validator.Validate(SlotRecord.KeyFor(Slot), plain.Encode()).IsValid, Is.True);
    }

    [Test]
    public void Too_many_nodes_duplicate_providers_or_nodes_are_refused_on_create_and_on_the_wire()
    {
        Assert.That(() => Split(1, Nodes(SlotRecord.MaxNodes + 1)), Throws.ArgumentException.With.Message.Contains("2..8"));
        Assert.That(() => Split(1, Nodes(1)), Throws.ArgumentException);
        var twice = Nodes(2);
        Assert.That(() => Split(1, [twice[0], twice[1] with { Provider = twice[0].Provider }]), Throws.ArgumentException.With.Message.Contains("twice"));
        Assert.That(() => Split(1, [twice[0], twice[0] with { Provider = "other" }]), Throws.ArgumentException.With.Message.Contains("twice"));

        var key = SlotRecord.KeyFor(Slot);
        var full = Split(2, Nodes(SlotRecord.MaxNodes)).Encode();
        Assert.That(_validator.Validate(key, full).IsValid, Is.True, "the bound itself is fine");
        var nine = WithExtraNode(full, Ed25519Identity.Generate().PeerId, "prov-extra");
        Assert.That(() => SlotRecord.Decode(nine), Throws.TypeOf<FormatException>().With.Message.Contains("over 8"));
        Assert.That(_validator.Validate(key, nine).Reason, Is.EqualTo("malformed"));

        var three = Split(2, Nodes(3)).Encode();
        var duplicate = WithExtraNode(three, Ed25519Identity.Generate().PeerId, "prov-1");
        Assert.That(() => SlotRecord.Decode(duplicate), Throws.TypeOf<FormatException>().With.Message.Contains("twice"));
        Assert.That(_validator.Validate(key, duplicate).Reason, Is.EqualTo("malformed"));
    }

    [Test]
    public void The_node_list_is_signed()
    {
        var nodes = Nodes(3);
        var record = Split(5, nodes);
        // The same record with its second and third nodes swapped (changes which node groups pick) is not HQ's.
        var proto = record.Encode();
        var reordered = SlotRecord.Decode(proto);
        var swapped = SlotRecord.CreateSplit(Slot, [nodes[0], nodes[2], nodes[1]], 5, record.IssuedAt, _hqCert, _hq);
        var forged = WithSignature(swapped.Encode(), record.Signature.ToArray());
        Assert.That(_validator.Validate(SlotRecord.KeyFor(Slot), forged).Reason, Is.EqualTo("bad-signature"));
        Assert.That(reordered.HasValidSignature(), Is.True);
    }

    [Test]
    public void An_older_sequence_never_wins_whether_plain_or_split()
    {
        var nodes = Nodes(3);
        var plain = SlotRecord.Create(Slot, Ed25519Identity.Generate().PeerId, 6, DateTimeOffset.UtcNow, _hqCert, _hq).Encode();
        var split = Split(7, nodes).Encode();
        var olderSplit = Split(5, Nodes(2)).Encode();
        var key = SlotRecord.KeyFor(Slot);
        Assert.That(_validator.Select(key, [plain, split, olderSplit]), Is.EqualTo(1));
        Assert.That(_validator.Select(key, [olderSplit, plain]), Is.EqualTo(1));
        Assert.That(_validator.Select(key, [split, SlotRecord.Create(Slot, nodes[1].NodeId, 8, DateTimeOffset.UtcNow, _hqCert, _hq).Encode()]), Is.EqualTo(1),
            "a slot given its own node again (higher sequence) replaces the split");
    }

    private static byte[] WithSignature(byte[] encoded, byte[] signature)
    {
        var outer = new MemoryStream();
        outer.Write(encoded);
        var o = new CodedOutputStream(outer);
        o.WriteTag(6, WireFormat.WireType.LengthDelimited); // a later scalar field wins when parsed
        o.WriteBytes(ByteString.CopyFrom(signature));
        o.Flush();
        return outer.ToArray();
    }
}
