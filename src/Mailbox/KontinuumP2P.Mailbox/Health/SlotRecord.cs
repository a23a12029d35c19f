using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Health.Wire;

namespace KontinuumP2P.Mailbox.Health;

/// <summary>One node of a split slot and the provider its certificate names.</summary>
/// <param name="NodeId">The node.</param>
/// <param name="Provider">Its provider.</param>
public sealed record SlotNode(PeerId NodeId, string Provider);

/// <summary>
/// What HQ publishes under <c>/slot/&lt;name&gt;</c>: the node holding a logical mailbox slot and a sequence number,
/// signed by HQ's node key, with HQ's certificate (which must carry the <c>hq</c> capability) attached. After a
/// provider loss a record may be <em>split</em>: it names one node per surviving provider, and each group's client
/// takes the node whose provider none of its other mailboxes uses (<see cref="NodeFor"/>), so the slot's groups land
/// on distinct providers without HQ publishing anything per group.
/// </summary>
public sealed partial record SlotRecord
{
    /// <summary>DHT namespace of slot records.</summary>
    public const string Namespace = "slot";

    /// <summary>The capability HQ's certificate must carry.</summary>
    public const string HqCapability = "hq";

    /// <summary>Largest encoded record accepted.</summary>
    public const int MaxEncodedLength = 10 * 1024;

    /// <summary>Longest slot name.</summary>
    public const int MaxSlotLength = 64;

    private static readonly byte[] Domain = "kontinuum-slot-v1\0"u8.ToArray();

    private SlotRecord(string slot, PeerId nodeId, ulong sequence, DateTimeOffset issuedAt, Certificate hq, ReadOnlyMemory<byte> signature,
        IReadOnlyList<SlotNode>? nodes = null)
    {
        Slot = slot;
        NodeId = nodeId;
        Nodes = nodes ?? [];
        Sequence = sequence;
        IssuedAt = issuedAt;
        HqCertificate = hq;
        Signature = signature;
    }

    /// <summary>Slot name, e.g. <c>mbx-eu-042</c>.</summary>
    public string Slot { get; }

    /// <summary>The node holding the slot (the first of <see cref="Nodes"/> when the slot is split).</summary>
    public PeerId NodeId { get; }

    /// <summary>Grows with every change of the slot; the highest wins.</summary>
    public ulong Sequence { get; }

    /// <summary>When HQ signed it (whole seconds).</summary>
    public DateTimeOffset IssuedAt { get; }

    /// <summary>HQ's certificate.</summary>
    public Certificate HqCertificate { get; }

    /// <summary>Ed25519 by HQ's node key.</summary>
    public ReadOnlyMemory<byte> Signature { get; }

    /// <summary>The DHT key of a slot.</summary>
    public static byte[] KeyFor(string slot)
    {
        CheckSlotName(slot);
        return Encoding.UTF8.GetBytes($"/{Namespace}/{slot}");
    }

    /// <summary>The slot a DHT key names, or null when it is not a slot key.</summary>
    public static string? ParseKey(ReadOnlySpan<byte> key)
    {
        if (key.Length > MaxSlotLength + Namespace.Length + 2) return null;
        var text = Encoding.UTF8.GetString(key);
        var prefix = $"/{Namespace}/";
        if (!text.StartsWith(prefix, StringComparison.Ordinal)) return null;
        var slot = text[prefix.Length..];
        return IsValidSlotName(slot) ? slot : null;
    }

    /// <summary>Whether a slot name is 1..64 characters of a-z, 0-9, '-' and '.'.</summary>
    public static bool IsValidSlotName(string? slot) =>
        !string.IsNullOrEmpty(slot) && slot.Length <= MaxSlotLength && slot.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '.');

    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="slot"/> is not a valid slot name.</summary>
    public static void CheckSlotName(string slot)
    {
        if (!IsValidSlotName(slot)) throw new ArgumentException($"slot name '{slot}' must be 1..{MaxSlotLength} characters of a-z 0-9 - .", nameof(slot));
    }

    /// <summary>Creates and signs a record with HQ's identity, which must be the one its certificate names.</summary>
    public static SlotRecord Create(string slot, PeerId nodeId, ulong sequence, DateTimeOffset issuedAt, Certificate hqCertificate, Ed25519Identity hqKey)
    {
        CheckSlotName(slot);
        ArgumentNullException.ThrowIfNull(nodeId);
        ArgumentNullException.ThrowIfNull(hqCertificate);
        ArgumentNullException.ThrowIfNull(hqKey);
        if (!hqCertificate.Body.NodePublicKey.Span.SequenceEqual(hqKey.PublicKey))
            throw new ArgumentException("the key is not the node key of HQ's certificate", nameof(hqKey));
        var issued = DateTimeOffset.FromUnixTimeSeconds(issuedAt.ToUnixTimeSeconds());
        var signature = hqKey.Sign(SignedBytes(slot, nodeId, sequence, issued, []));
        return new SlotRecord(slot, nodeId, sequence, issued, hqCertificate, signature);
    }

    /// <summary>Whether the signature is by the attached certificate's node key.</summary>
    public bool HasValidSignature() =>
        Ed25519Identity.Verify(HqCertificate.Body.NodePublicKey.Span, SignedBytes(Slot, NodeId, Sequence, IssuedAt, Nodes), Signature.Span);

    /// <summary>The wire form.</summary>
    public byte[] Encode() => ToProto().ToByteArray();

    private SlotRecordProto ToProto()
    {
        var proto = new SlotRecordProto
        {
        Slot = Slot,
        NodeId = ByteString.CopyFrom(NodeId.ToByteArray()),
        Sequence = Sequence,
        IssuedAtUnix = IssuedAt.ToUnixTimeSeconds(),
        HqCertificate = ByteString.CopyFrom(HqCertificate.Encode()),
        Signature = ByteString.CopyFrom(Signature.Span),
        };
        foreach (var n in Nodes) proto.Nodes.Add(new SlotNodeProto { NodeId = ByteString.CopyFrom(n.NodeId.ToByteArray()), Provider = n.Provider });
        return proto;
    }

    /// <summary>Decodes the wire form (signature and certificate not checked).</summary>
    /// <exception cref="FormatException">Malformed or too large.</exception>
    public static SlotRecord Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxEncodedLength) throw new FormatException($"slot record is {bytes.Length} bytes, over {MaxEncodedLength}");
        try
        {
            var p = SlotRecordProto.Parser.ParseFrom(bytes);
            if (!IsValidSlotName(p.Slot)) throw new FormatException("bad slot name");
            if (p.Signature.Length != 64) throw new FormatException("signature is not 64 bytes");
            if (p.IssuedAtUnix is < 0 or > 253402300799) throw new FormatException("issued_at out of range");
            var nodeId = PeerId.FromBytes(p.NodeId.Span);
            var nodes = DecodeNodes(p, nodeId);
            return new SlotRecord(p.Slot, nodeId, p.Sequence, DateTimeOffset.FromUnixTimeSeconds(p.IssuedAtUnix),
                Certificate.Decode(p.HqCertificate.Span), p.Signature.ToByteArray(), nodes);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or TrustFormatException or ArgumentException)
        {
            throw new FormatException($"malformed slot record: {e.Message}", e);
        }
    }

    private static byte[] SignedBytes(string slot, PeerId node, ulong sequence, DateTimeOffset issuedAt, IReadOnlyList<SlotNode> nodes)
    {
        if (nodes.Count > 0) return SplitSignedBytes(slot, node, sequence, issuedAt, nodes);
        var name = Encoding.UTF8.GetBytes(slot);
        var id = node.ToByteArray();
        var buffer = new byte[Domain.Length + 1 + name.Length + 2 + id.Length + 16];
        var span = buffer.AsSpan();
        Domain.CopyTo(span);
        var o = Domain.Length;
        span[o++] = (byte)name.Length;
        name.CopyTo(span[o..]);
        o += name.Length;
        BinaryPrimitives.WriteUInt16BigEndian(span[o..], (ushort)id.Length);
        o += 2;
        id.CopyTo(span[o..]);
        o += id.Length;
        BinaryPrimitives.WriteUInt64BigEndian(span[o..], sequence);
        BinaryPrimitives.WriteInt64BigEndian(span[(o + 8)..], issuedAt.ToUnixTimeSeconds());
        return buffer;
    }
}
