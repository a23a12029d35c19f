using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Dht.Records;

/// <summary>
/// The libp2p <c>/pk/</c> namespace: key <c>/pk/&lt;peer multihash bytes&gt;</c>, value an encoded PublicKey whose
/// PeerId equals that multihash. All valid values for a key are equal bytes, so selection only has to be deterministic.
/// </summary>
public sealed class PublicKeyValidator : IRecordValidator
{
    /// <summary>The namespace served.</summary>
    public const string Namespace = "pk";

    private static ReadOnlySpan<byte> Prefix => "/pk/"u8;

    /// <summary>The record key of <paramref name="peer"/>'s public key.</summary>
    public static byte[] KeyFor(PeerId peer) => [.. Prefix, .. peer.Bytes];

    /// <inheritdoc />
    public RecordValidationResult Validate(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value)
    {
        var span = key.Span;
        if (!span.StartsWith(Prefix)) return RecordValidationResult.Invalid("bad-key");
        PeerId expected;
        try
        {
            expected = PeerId.FromBytes(span[Prefix.Length..]);
        }
        catch (FormatException)
        {
            return RecordValidationResult.Invalid("bad-key");
        }
        if (value.Length > PublicKeyEncoding.MaxEncodedLength) return RecordValidationResult.Invalid("too-large");
        try
        {
            PublicKeyEncoding.Decode(value.Span);
            return expected.Matches(value.Span) ? RecordValidationResult.Valid : RecordValidationResult.Invalid("key-mismatch");
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidDataException)
        {
            return RecordValidationResult.Invalid("bad-value");
        }
    }

    /// <inheritdoc />
    public int Select(ReadOnlyMemory<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values) => RecordSelection.BestBy(values, _ => 0);
}
