using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Dht.Records;

namespace KontinuumP2P.Node.Records;

/// <summary>
/// Validates <c>/node/</c> records: the key names the certificate's node, the certificate verifies against the
/// anchors in force and is not revoked, and the node key signed the record. The highest sequence wins.
/// </summary>
public sealed class NodeRecordValidator : IRecordValidator
{
    private readonly Func<TrustAnchors> _anchors;
    private readonly IRevocationSource? _revocations;

    /// <summary>Creates the validator.</summary>
    /// <param name="anchors">The anchors in force (read on every call: rotations apply at once).</param>
    /// <param name="revocations">The CRL in force, when known.</param>
    public NodeRecordValidator(Func<TrustAnchors> anchors, IRevocationSource? revocations)
    {
        _anchors = anchors;
        _revocations = revocations;
    }

    /// <inheritdoc />
    public RecordValidationResult Validate(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value)
    {
        var peer = RecordKeys.ParseNodeKey(key.Span);
        if (peer is null) return RecordValidationResult.Invalid("bad-key");
        NodeRecord record;
        try
        {
            record = NodeRecord.Decode(value.Span);
        }
        catch (FormatException)
        {
            return RecordValidationResult.Invalid("malformed");
        }
        if (record.PeerId != peer) return RecordValidationResult.Invalid("key-mismatch");
        var verification = _anchors().VerifyCertificate(record.Certificate, _revocations);
        if (!verification.IsValid) return RecordValidationResult.Invalid("certificate-" + verification.Status.ToString().ToLowerInvariant());
        return record.HasValidSignature() ? RecordValidationResult.Valid : RecordValidationResult.Invalid("bad-signature");
    }

    /// <inheritdoc />
    public int Select(ReadOnlyMemory<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values) =>
        RecordSelection.BestBy(values, v => NodeRecord.Decode(v.Span).Sequence);
}
