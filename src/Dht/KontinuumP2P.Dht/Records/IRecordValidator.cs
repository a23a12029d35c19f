namespace KontinuumP2P.Dht.Records;

/// <summary>
/// Validates and ranks the records of one key namespace (the text between the first and second <c>/</c> of the key).
/// The certificate layer plugs its <c>/node/</c> and <c>/crl/</c> validators in through this interface.
/// </summary>
public interface IRecordValidator
{
    /// <summary>Checks one record; runs on every PUT received and every GET answer.</summary>
    RecordValidationResult Validate(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value);

    /// <summary>
    /// Index of the best of <paramref name="values"/> (all already valid, at least one). Must be deterministic: equal
    /// ranks are broken with <see cref="RecordSelection.TieBreak"/> or an equivalent total order.
    /// </summary>
    int Select(ReadOnlyMemory<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values);
}

/// <summary>The outcome of <see cref="IRecordValidator.Validate"/>.</summary>
/// <param name="IsValid">Whether the record is acceptable.</param>
/// <param name="Reason">A short machine-friendly reason when invalid (used as a metric tag), e.g. <c>bad-signature</c>.</param>
public readonly record struct RecordValidationResult(bool IsValid, string? Reason)
{
    /// <summary>An acceptable record.</summary>
    public static RecordValidationResult Valid => new(true, null);

    /// <summary>A rejected record.</summary>
    public static RecordValidationResult Invalid(string reason) => new(false, reason);
}
