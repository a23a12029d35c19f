using System.Text;

namespace KontinuumP2P.Dht.Records;

/// <summary>
/// The validators by namespace. A key must look like <c>/&lt;namespace&gt;/&lt;rest&gt;</c> (the libp2p rule: at least
/// three <c>/</c>-separated parts); keys of a namespace without a validator are rejected. <c>/pk/</c> is built in.
/// </summary>
public sealed class RecordValidators
{
    /// <summary>Longest key accepted.</summary>
    public const int MaxKeyLength = 1024;

    private readonly Dictionary<string, IRecordValidator> _byNamespace = new(StringComparer.Ordinal);

    /// <summary>Creates the set with the built-in <c>/pk/</c> validator.</summary>
    public RecordValidators() : this(includePublicKeys: true)
    {
    }

    /// <summary>
    /// Creates an empty set, with the <c>/pk/</c> validator only when <paramref name="includePublicKeys"/>. A network whose
    /// records all need a Tier 0 signature leaves <c>/pk/</c> out: any key hashes to some peer id, so anyone could fill it.
    /// </summary>
    public RecordValidators(bool includePublicKeys)
    {
        if (includePublicKeys) _byNamespace[PublicKeyValidator.Namespace] = new PublicKeyValidator();
    }

    /// <summary>Creates the set with <c>/pk/</c> plus <paramref name="validators"/> (which may replace it).</summary>
    public RecordValidators(IEnumerable<KeyValuePair<string, IRecordValidator>> validators) : this()
    {
        foreach (var (ns, validator) in validators) Add(ns, validator);
    }

    /// <summary>Registers (or replaces) the validator of namespace <paramref name="ns"/> (no slashes, e.g. <c>node</c>).</summary>
    public RecordValidators Add(string ns, IRecordValidator validator)
    {
        ArgumentException.ThrowIfNullOrEmpty(ns);
        if (ns.Contains('/', StringComparison.Ordinal)) throw new ArgumentException("a namespace has no '/'", nameof(ns));
        _byNamespace[ns] = validator;
        return this;
    }

    /// <summary>The namespaces served.</summary>
    public IReadOnlyCollection<string> Namespaces => _byNamespace.Keys;

    /// <summary>The namespace of a key, or null when the key is not of the <c>/ns/rest</c> form.</summary>
    public static string? NamespaceOf(ReadOnlySpan<byte> key)
    {
        if (key.Length is < 4 or > MaxKeyLength || key[0] != (byte)'/') return null;
        var second = key[1..].IndexOf((byte)'/');
        if (second <= 0 || 1 + second + 1 >= key.Length) return null;
        try
        {
            return new UTF8Encoding(false, true).GetString(key.Slice(1, second));
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>Validates a record against its namespace's validator.</summary>
    public RecordValidationResult Validate(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value)
    {
        var ns = NamespaceOf(key.Span);
        if (ns is null) return RecordValidationResult.Invalid("bad-key");
        if (!_byNamespace.TryGetValue(ns, out var validator)) return RecordValidationResult.Invalid("unknown-namespace");
        return validator.Validate(key, value);
    }

    /// <summary>Index of the best of several valid values for one key.</summary>
    public int Select(ReadOnlyMemory<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values)
    {
        var ns = NamespaceOf(key.Span) ?? throw new ArgumentException("not a namespaced key", nameof(key));
        if (!_byNamespace.TryGetValue(ns, out var validator)) throw new ArgumentException($"no validator for /{ns}/", nameof(key));
        var index = validator.Select(key, values);
        if ((uint)index >= (uint)values.Count) throw new InvalidOperationException($"the /{ns}/ selector returned {index}");
        return index;
    }
}
