using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Dht.Records;

namespace KontinuumP2P.Mailbox.Health;

/// <summary>
/// Validates <c>/slot/&lt;name&gt;</c> records: the key names the record's slot, HQ's certificate verifies against the
/// anchors in force, is not revoked and carries the <c>hq</c> capability, and HQ's node key signed the record. The
/// highest sequence wins (a DHT node keeps the better record it holds, so an older sequence never replaces a newer one).
/// Register under <see cref="SlotRecord.Namespace"/>.
/// </summary>
public sealed class SlotRecordValidator : IRecordValidator
{
    private readonly Func<TrustAnchors> _anchors;
    private readonly IRevocationSource? _revocations;

    /// <summary>Creates the validator.</summary>
    /// <param name="anchors">The anchors in force (read on every call).</param>
    /// <param name="revocations">The CRL in force, when known.</param>
    public SlotRecordValidator(Func<TrustAnchors> anchors, IRevocationSource? revocations)
    {
        _anchors = anchors ?? throw new ArgumentNullException(nameof(anchors));
        _revocations = revocations;
    }

    /// <inheritdoc />
    public RecordValidationResult Validate(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value)
    {
        var slot = SlotRecord.ParseKey(key.Span);
        if (slot is null) return RecordValidationResult.Invalid("bad-key");
        SlotRecord record;
        try
        {
            record = SlotRecord.Decode(value.Span);
        }
        catch (FormatException)
        {
            return RecordValidationResult.Invalid("malformed");
        }
        if (record.Slot != slot) return RecordValidationResult.Invalid("key-mismatch");
        if (!record.HqCertificate.Body.Capabilities.Contains(SlotRecord.HqCapability)) return RecordValidationResult.Invalid("not-hq");
        var verification = _anchors().VerifyCertificate(record.HqCertificate, _revocations);
        if (!verification.IsValid) return RecordValidationResult.Invalid("certificate-" + verification.Status.ToString().ToLowerInvariant());
        return record.HasValidSignature() ? RecordValidationResult.Valid : RecordValidationResult.Invalid("bad-signature");
    }

    /// <inheritdoc />
    public int Select(ReadOnlyMemory<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values) =>
        RecordSelection.BestBy(values, v => SlotRecord.Decode(v.Span).Sequence);
}
