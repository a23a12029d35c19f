using System.Buffers.Binary;
using System.Text;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Health.Wire;

namespace KontinuumP2P.Mailbox.Health;

public sealed partial record SlotRecord
{
    /// <summary>Most nodes a split record names (one per provider; a fleet has a handful of providers).</summary>
    public const int MaxNodes = 8;

    /// <summary>Longest provider name in a split record.</summary>
    public const int MaxProviderLength = 64;

    // Split records sign their node list under their own domain, so a plain (v1) record keeps its exact signed bytes.
    private static readonly byte[] SplitDomain = "kontinuum-slot-v2\0"u8.ToArray();

    /// <summary>The nodes of a split slot, each on a distinct provider; empty for a single-node record.</summary>
    public IReadOnlyList<SlotNode> Nodes { get; }

    /// <summary>Whether the record names one node per provider rather than one node.</summary>
    public bool IsSplit => Nodes.Count > 0;

    /// <summary>
    /// Creates and signs a split record: 2..<see cref="MaxNodes"/> nodes on distinct providers. <see cref="NodeId"/>
    /// is the first, so a client that predates split records still finds a serving node.
    /// </summary>
    /// <exception cref="ArgumentException">Too few or too many nodes, a repeated node or provider, or a bad name.</exception>
    public static SlotRecord CreateSplit(string slot, IReadOnlyList<SlotNode> nodes, ulong sequence, DateTimeOffset issuedAt, Certificate hqCertificate,
        Ed25519Identity hqKey)
    {
        CheckSlotName(slot);
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(hqCertificate);
        ArgumentNullException.ThrowIfNull(hqKey);
        if (CheckNodes(nodes) is { } problem) throw new ArgumentException(problem, nameof(nodes));
        if (!hqCertificate.Body.NodePublicKey.Span.SequenceEqual(hqKey.PublicKey))
            throw new ArgumentException("the key is not the node key of HQ's certificate", nameof(hqKey));
        var issued = DateTimeOffset.FromUnixTimeSeconds(issuedAt.ToUnixTimeSeconds());
        var list = nodes.ToArray();
        var signature = hqKey.Sign(SplitSignedBytes(slot, list[0].NodeId, sequence, issued, list));
        return new SlotRecord(slot, list[0].NodeId, sequence, issued, hqCertificate, signature, list);
    }

    /// <summary>
    /// The node a group should use, given the providers its other mailboxes are on: <see cref="NodeId"/> for a
    /// single-node record; for a split record the first node whose provider is not among <paramref name="usedProviders"/>,
    /// or null when every node's provider is taken (the group then stays on its other mailboxes rather than doubling up).
    /// </summary>
    public PeerId? NodeFor(IReadOnlyCollection<string> usedProviders)
    {
        ArgumentNullException.ThrowIfNull(usedProviders);
        if (!IsSplit) return NodeId;
        foreach (var n in Nodes)
        {
            if (!usedProviders.Contains(n.Provider, StringComparer.Ordinal)) return n.NodeId;
        }
        return null;
    }

    private static string? CheckNodes(IReadOnlyList<SlotNode> nodes)
    {
        if (nodes.Count is < 2 or > MaxNodes) return $"a split slot names 2..{MaxNodes} nodes, not {nodes.Count}";
        var providers = new HashSet<string>(StringComparer.Ordinal);
        var ids = new HashSet<PeerId>();
        foreach (var n in nodes)
        {
            if (n is null || n.NodeId is null) return "a split slot node is missing";
            if (string.IsNullOrEmpty(n.Provider) || n.Provider.Length > MaxProviderLength)
                return $"a split slot node's provider must be 1..{MaxProviderLength} characters";
            if (!providers.Add(n.Provider)) return $"provider '{n.Provider}' appears twice in a split slot";
            if (!ids.Add(n.NodeId)) return $"node {n.NodeId} appears twice in a split slot";
        }
        return null;
    }

    private static SlotNode[] DecodeNodes(SlotRecordProto p, PeerId nodeId)
    {
        if (p.Nodes.Count == 0) return [];
        // Bounded before anything is built from the list.
        if (p.Nodes.Count > MaxNodes) throw new FormatException($"split slot names {p.Nodes.Count} nodes, over {MaxNodes}");
        var nodes = p.Nodes.Select(n => new SlotNode(PeerId.FromBytes(n.NodeId.Span), n.Provider)).ToArray();
        if (CheckNodes(nodes) is { } problem) throw new FormatException(problem);
        if (!nodes[0].NodeId.Equals(nodeId)) throw new FormatException("node_id is not the split slot's first node");
        return nodes;
    }

    private static byte[] SplitSignedBytes(string slot, PeerId node, ulong sequence, DateTimeOffset issuedAt, IReadOnlyList<SlotNode> nodes)
    {
        using var buffer = new MemoryStream();
        buffer.Write(SplitDomain);
        var name = Encoding.UTF8.GetBytes(slot);
        buffer.WriteByte((byte)name.Length);
        buffer.Write(name);
        WriteId(buffer, node);
        Span<byte> numbers = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(numbers, sequence);
        BinaryPrimitives.WriteInt64BigEndian(numbers[8..], issuedAt.ToUnixTimeSeconds());
        buffer.Write(numbers);
        buffer.WriteByte((byte)nodes.Count);
        Span<byte> length = stackalloc byte[2];
        foreach (var n in nodes)
        {
            var provider = Encoding.UTF8.GetBytes(n.Provider);
            BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)provider.Length);
            buffer.Write(length);
            buffer.Write(provider);
            WriteId(buffer, n.NodeId);
        }
        return buffer.ToArray();
    }

    private static void WriteId(MemoryStream buffer, PeerId id)
    {
        var bytes = id.ToByteArray();
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)bytes.Length);
        buffer.Write(length);
        buffer.Write(bytes);
    }
}
