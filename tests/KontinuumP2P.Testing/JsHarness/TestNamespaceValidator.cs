using System.Numerics;
using KontinuumP2P.Dht.Records;

namespace KontinuumP2P.Testing.JsHarness;

/// <summary>
/// The harness's <c>/test/</c> record rule on our side (docs/interop.md): a value is at most 8 KiB and starts with a
/// decimal sequence number; the highest number wins. Like js, only the first 32 bytes are read for the number. js
/// keeps the first of equal records; we break ties with <see cref="RecordSelection.BestBy{TRank}"/> (lowest SHA-256),
/// which every one of our nodes agrees on whatever order the answers came in.
/// </summary>
public sealed class TestNamespaceValidator : IRecordValidator
{
    /// <summary>The namespace (key prefix <c>/test/</c>).</summary>
    public const string Namespace = "test";

    /// <summary>Largest value accepted (js: 8192 bytes).</summary>
    public const int MaxValueSize = 8 * 1024;

    private const int SequenceWindow = 32;

    /// <summary>The leading decimal sequence number of a value, or null when it has none.</summary>
    public static BigInteger? SequenceOf(ReadOnlySpan<byte> value)
    {
        var window = value[..Math.Min(value.Length, SequenceWindow)];
        var digits = 0;
        while (digits < window.Length && window[digits] is >= (byte)'0' and <= (byte)'9') digits++;
        if (digits == 0) return null;
        var sequence = BigInteger.Zero;
        foreach (var digit in window[..digits]) sequence = sequence * 10 + (digit - '0');
        return sequence;
    }

    /// <inheritdoc />
    public RecordValidationResult Validate(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value)
    {
        if (value.Length > MaxValueSize) return RecordValidationResult.Invalid("test-too-large");
        return SequenceOf(value.Span) is null ? RecordValidationResult.Invalid("test-no-sequence") : RecordValidationResult.Valid;
    }

    /// <inheritdoc />
    public int Select(ReadOnlyMemory<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values) =>
        RecordSelection.BestBy(values, v => SequenceOf(v.Span) ?? BigInteger.MinusOne);
}
