using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Rpc;

namespace KontinuumP2P.Simulations.Network;

/// <summary>
/// Hands a kad message object to the receiver without encoding it: the receiver gets what decoding the encoded bytes
/// would give (peer and address caps, <c>/p2p/</c> stripped, UTC time), and the link model gets the exact encoded size.
/// Encoding and decoding every message was a third of the simulator's time and is not the protocol's cost; the
/// <c>[network] codec = true</c> mode still sends every message through <c>KadMessageCodec</c>, and a test checks that
/// both modes give byte-identical results.
/// </summary>
internal static class KadHandover
{
    // Field tags of the kad protobuf (all below 16, so one byte each); see Protos/dht.proto of the Dht project.
    private const int RecordTimeLength = 30; // "yyyy-MM-ddTHH:mm:ss.fffffff00Z", ASCII

    /// <summary>The length of <c>KadMessageCodec.Encode(message)</c>, computed without encoding.</summary>
    public static int WireSize(KadMessage message)
    {
        var size = 0;
        if (message.Type != KadMessageType.PutValue) size += 1 + VarintSize((ulong)message.Type);
        size += BytesField(message.Key.Length);
        if (message.Record is { } record)
        {
            var inner = BytesField(record.Key.Length) + BytesField(record.Value.Length) + (record.TimeReceived is null ? 0 : BytesField(RecordTimeLength));
            size += 1 + VarintSize((ulong)inner) + inner;
        }
        foreach (var peer in message.CloserPeers) size += PeerField(peer);
        foreach (var peer in message.ProviderPeers) size += PeerField(peer);
        return size;
    }

    /// <summary>
    /// What the receiver decodes from <paramref name="message"/>: the same object when nothing would change, else a
    /// copy with the decoder's caps applied (the sender's lists are never modified).
    /// </summary>
    public static KadMessage AsReceived(KadMessage message)
    {
        var record = message.Record is { TimeReceived: { } t } r && t.Offset != TimeSpan.Zero
            ? r with { TimeReceived = t.ToUniversalTime() }
            : message.Record;
        var closer = Received(message.CloserPeers);
        var providers = Received(message.ProviderPeers);
        return ReferenceEquals(record, message.Record) && ReferenceEquals(closer, message.CloserPeers) && ReferenceEquals(providers, message.ProviderPeers)
            ? message
            : message with { Record = record, CloserPeers = closer, ProviderPeers = providers };
    }

    private static IReadOnlyList<KadPeer> Received(IReadOnlyList<KadPeer> peers)
    {
        var changed = peers.Count > KadMessageCodec.MaxPeersPerAnswer;
        for (var i = 0; i < peers.Count && !changed; i++) changed = !AddressesUnchanged(peers[i].Addresses);
        if (!changed) return peers;
        var list = new List<KadPeer>(Math.Min(peers.Count, KadMessageCodec.MaxPeersPerAnswer));
        foreach (var peer in peers)
        {
            if (list.Count == KadMessageCodec.MaxPeersPerAnswer) break;
            list.Add(AddressesUnchanged(peer.Addresses)
                ? peer
                : peer with { Addresses = [.. peer.Addresses.Take(KadMessageCodec.MaxAddressesPerPeer).Select(a => a.WithoutPeerId())] });
        }
        return list;
    }

    /// <summary>Whether the decoder would give <paramref name="addresses"/> back unchanged.</summary>
    internal static bool AddressesUnchanged(IReadOnlyList<Multiaddr> addresses)
    {
        // A node's own list, worked out once when it was attached.
        if (addresses is CanonicalAddresses canonical) return canonical.IsAsDecoded;
        if (addresses.Count > KadMessageCodec.MaxAddressesPerPeer) return false;
        for (var i = 0; i < addresses.Count; i++)
        {
            if (!ReferenceEquals(addresses[i].WithoutPeerId(), addresses[i])) return false;
        }
        return true;
    }

    private static int PeerField(KadPeer peer) =>
        // A node named with its own list (almost every peer in an answer): the size was worked out when it was attached.
        peer.Addresses is CanonicalAddresses canonical && ReferenceEquals(canonical.Owner, peer.PeerId)
            ? canonical.OwnerPeerFieldSize
            : PeerFieldSize(peer.PeerId, peer.Addresses);

    /// <summary>The encoded size of a peer field (tag, length, peer id and at most the decoder's cap of addresses).</summary>
    internal static int PeerFieldSize(PeerId peer, IReadOnlyList<Multiaddr> addresses)
    {
        var inner = BytesField(peer.Bytes.Length);
        var count = Math.Min(addresses.Count, KadMessageCodec.MaxAddressesPerPeer);
        for (var i = 0; i < count; i++) inner += 1 + VarintSize((ulong)addresses[i].AsSpan().Length) + addresses[i].AsSpan().Length;
        return 1 + VarintSize((ulong)inner) + inner;
    }

    // proto3 omits empty bytes and strings.
    private static int BytesField(int length) => length == 0 ? 0 : 1 + VarintSize((ulong)length) + length;

    private static int VarintSize(ulong value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }
}
