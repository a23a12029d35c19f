using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Dht.Records;

namespace KontinuumP2P.Node.Records;

/// <summary>
/// Validates <c>/crl/&lt;anchor key&gt;</c> records: the key names an active anchor and the CRL carries the CRL
/// threshold of signatures from distinct anchors. The highest CRL number wins. Rollback and equivocation are judged
/// by the node's <see cref="CrlTracker"/>, which persists the high-water mark; a DHT record alone cannot.
/// </summary>
public sealed class CrlRecordValidator : IRecordValidator
{
    private readonly Func<TrustAnchors> _anchors;

    /// <summary>Creates the validator over the anchors in force (read on every call).</summary>
    public CrlRecordValidator(Func<TrustAnchors> anchors) => _anchors = anchors;

    /// <inheritdoc />
    public RecordValidationResult Validate(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value)
    {
        var anchorKey = RecordKeys.ParseCrlKey(key.Span);
        if (anchorKey is null) return RecordValidationResult.Invalid("bad-key");
        var anchors = _anchors();
        if (!anchors.IsActiveAnchor(anchorKey)) return RecordValidationResult.Invalid("unknown-anchor");
        Crl crl;
        try
        {
            crl = Crl.Decode(value.Span);
        }
        catch (FormatException)
        {
            return RecordValidationResult.Invalid("malformed");
        }
        return anchors.MeetsThreshold(crl.Document, ThresholdKind.Crl, anchors.Time.GetUtcNow())
            ? RecordValidationResult.Valid
            : RecordValidationResult.Invalid("insufficient-signatures");
    }

    /// <inheritdoc />
    public int Select(ReadOnlyMemory<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values) =>
        RecordSelection.BestBy(values, v => Crl.Decode(v.Span).Body.CrlNumber);
}
