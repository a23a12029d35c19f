using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Node.Protos;

namespace KontinuumP2P.Node.Records;

/// <summary>Wire and signed encodings of <see cref="NodeRecord"/>.</summary>
public static class NodeRecordCodec
{
    private static readonly byte[] Domain = "kontinuum-node-record-v1\0"u8.ToArray();

    /// <summary>
    /// The bytes the node signs: the domain prefix, the certificate, the address count and each address (all
    /// varint-length-prefixed), then the sequence as 8 bytes big-endian. Independent of any protobuf serializer.
    /// </summary>
    public static byte[] SignedBytes(Certificate certificate, IReadOnlyList<Multiaddr> addresses, ulong sequence)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        buffer.Write(Domain);
        LengthPrefixed.Write(buffer, certificate.Encode());
        Varint.Write(buffer, (ulong)addresses.Count);
        foreach (var address in addresses) LengthPrefixed.Write(buffer, address.AsSpan());
        BinaryPrimitives.WriteUInt64BigEndian(buffer.GetSpan(8), sequence);
        buffer.Advance(8);
        return buffer.WrittenSpan.ToArray();
    }

    internal static byte[] Encode(NodeRecord record)
    {
        var message = new NodeRecordMessage
        {
            Certificate = ByteString.CopyFrom(record.Certificate.Encode()),
            Seq = record.Sequence,
            Signature = ByteString.CopyFrom(record.Signature.Span),
        };
        foreach (var address in record.Addresses) message.Addrs.Add(ByteString.CopyFrom(address.AsSpan()));
        return message.ToByteArray();
    }

    internal static NodeRecord Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > NodeRecord.MaxEncodedLength)
            throw new FormatException($"node record of {bytes.Length} bytes exceeds {NodeRecord.MaxEncodedLength}");
        NodeRecordMessage message;
        try
        {
            message = NodeRecordMessage.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new FormatException($"node record is not a valid message: {e.Message}", e);
        }
        if (message.Addrs.Count > NodeRecord.MaxAddresses) throw new FormatException($"node record has over {NodeRecord.MaxAddresses} addresses");
        if (message.Signature.Length != 64) throw new FormatException("node record signature must be 64 bytes");
        Certificate certificate;
        try
        {
            certificate = Certificate.Decode(message.Certificate.Span);
        }
        catch (Exception e) when (e is not FormatException and not OutOfMemoryException)
        {
            throw new FormatException($"node record certificate is malformed: {e.Message}", e);
        }
        var addresses = message.Addrs.Select(a => Multiaddr.FromBytes(a.Span)).ToList();
        return new NodeRecord(certificate, addresses, message.Seq, message.Signature.ToByteArray());
    }
}
