using System.Buffers.Binary;
using KontinuumP2P.Dht.Records;

namespace KontinuumP2P.Dht.Tests.Fakes;

/// <summary>A test namespace <c>/seq/</c>: value = 4-byte big-endian sequence number + payload; the highest wins.</summary>
internal sealed class SequenceValidator : IRecordValidator
{
    public const string Namespace = "seq";

    public static byte[] Value(uint sequence, string payload)
    {
        var bytes = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, sequence);
        System.Text.Encoding.ASCII.GetBytes(payload, bytes.AsSpan(4));
        return bytes;
    }

    public static uint SequenceOf(ReadOnlyMemory<byte> value) => BinaryPrimitives.ReadUInt32BigEndian(value.Span);

    public RecordValidationResult Validate(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value) =>
        value.Length < 4 ? RecordValidationResult.Invalid("too-short") : RecordValidationResult.Valid;

    public int Select(ReadOnlyMemory<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values) => RecordSelection.BestBy(values, SequenceOf);
}
