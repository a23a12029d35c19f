using System.Globalization;
using Google.Protobuf;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Protos;
using KontinuumP2P.Dht.Records;

namespace KontinuumP2P.Dht.Rpc;

/// <summary>Maps <see cref="KadMessage"/> to and from the kad-dht protobuf, with the size limits of the protocol.</summary>
internal static class KadMessageCodec
{
    /// <summary>Largest message read (js and go use a 4 MiB buffer).</summary>
    public const int MaxMessageSize = 4 * 1024 * 1024;

    /// <summary>Size responses are trimmed to when they carry more peers than fit.</summary>
    public const int TargetResponseSize = 16 * 1024;

    /// <summary>Addresses kept per peer; the rest are dropped on decode and encode.</summary>
    public const int MaxAddressesPerPeer = 16;

    /// <summary>
    /// Most peers read from one answer's closer or provider list (2k): the rest is ignored, so an answer cannot flood the
    /// peer store with thousands of second-hand addresses.
    /// </summary>
    public const int MaxPeersPerAnswer = 40;

    private const string TimeFormat = "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffff'00Z'";

    public static byte[] Encode(KadMessage message) => ToProto(message).ToByteArray();

    /// <summary>Encodes a response, dropping the farthest closer peers, then providers, until it fits the target size.</summary>
    public static byte[] EncodeTrimmed(KadMessage message, int targetSize = TargetResponseSize)
    {
        var proto = ToProto(message);
        while (proto.CalculateSize() > targetSize && proto.CloserPeers.Count > 0) proto.CloserPeers.RemoveAt(proto.CloserPeers.Count - 1);
        while (proto.CalculateSize() > targetSize && proto.ProviderPeers.Count > 1) proto.ProviderPeers.RemoveAt(proto.ProviderPeers.Count - 1);
        return proto.ToByteArray();
    }

    /// <exception cref="InvalidDataException">Not a kad message, or an unknown type.</exception>
    public static KadMessage Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxMessageSize) throw new InvalidDataException("kad message over the size limit");
        Message proto;
        try
        {
            proto = Message.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException("malformed kad message", e);
        }
        if (!Enum.IsDefined((KadMessageType)(int)proto.Type)) throw new InvalidDataException($"unknown kad message type {(int)proto.Type}");
        DhtRecord? record = proto.Record is null
            ? null
            : new DhtRecord(proto.Record.Key.Memory, proto.Record.Value.Memory, ParseTime(proto.Record.TimeReceived));
        return new KadMessage((KadMessageType)(int)proto.Type, proto.Key.Memory, record,
            DecodePeers(proto.CloserPeers), DecodePeers(proto.ProviderPeers));
    }

    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    public static DateTimeOffset? ParseTime(string text)
    {
        if (string.IsNullOrEmpty(text) || text.Length > 64) return null;
        // .NET parses at most 7 fractional digits; RFC 3339 from go/js carries up to 9.
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            var end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
            if (end - dot - 1 > 7) text = string.Concat(text.AsSpan(0, dot + 8), text.AsSpan(end));
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? time.ToUniversalTime()
            : null;
    }

    private static Message ToProto(KadMessage message)
    {
        var proto = new Message { Type = (Message.Types.MessageType)(int)message.Type, Key = ByteString.CopyFrom(message.Key.Span) };
        if (message.Record is { } record)
        {
            proto.Record = new Record
            {
                Key = ByteString.CopyFrom(record.Key.Span),
                Value = ByteString.CopyFrom(record.Value.Span),
                TimeReceived = record.TimeReceived is { } t ? FormatTime(t) : "",
            };
        }
        foreach (var peer in message.CloserPeers) proto.CloserPeers.Add(ToProto(peer));
        foreach (var peer in message.ProviderPeers) proto.ProviderPeers.Add(ToProto(peer));
        return proto;
    }

    private static Message.Types.Peer ToProto(KadPeer peer)
    {
        var proto = new Message.Types.Peer { Id = ByteString.CopyFrom(peer.PeerId.Bytes) };
        foreach (var address in peer.Addresses.Take(MaxAddressesPerPeer)) proto.Addrs.Add(ByteString.CopyFrom(address.AsSpan()));
        return proto;
    }

    private static List<KadPeer> DecodePeers(IEnumerable<Message.Types.Peer> peers)
    {
        var list = new List<KadPeer>();
        foreach (var peer in peers)
        {
            if (list.Count == MaxPeersPerAnswer) break;
            // A peer with a bad id is skipped rather than failing the whole answer.
            PeerId id;
            try
            {
                id = PeerId.FromBytes(peer.Id.Span);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidDataException)
            {
                continue;
            }
            var addresses = new List<Multiaddr>();
            foreach (var raw in peer.Addrs)
            {
                if (addresses.Count == MaxAddressesPerPeer) break;
                try
                {
                    addresses.Add(Multiaddr.FromBytes(raw.Span).WithoutPeerId());
                }
                catch (Exception e) when (e is ArgumentException or FormatException or InvalidDataException)
                {
                    // Unknown or malformed address: ignore it, keep the others.
                }
            }
            list.Add(new KadPeer(id, addresses));
        }
        return list;
    }
}
