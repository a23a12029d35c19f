using System.Buffers.Binary;
using KontinuumP2P.Certs.Encoding;
using NSec.Cryptography;

namespace KontinuumP2P.Certs.Trust;

/// <summary>
/// The decoded anchor keys of one set, imported once so verifying a document is only the signature checks. Counting
/// marks each anchor by its index, so a key counts once however many entries name it.
/// </summary>
internal sealed class AnchorKeyring
{
    private static readonly SignatureAlgorithm Ed25519 = SignatureAlgorithm.Ed25519;
    private readonly Dictionary<KeyBytes, int> _index = [];
    private readonly PublicKey[] _keys;
    private readonly bool[] _revoked;

    private readonly VerifiedSignatureCache? _cache;

    public AnchorKeyring(AnchorSet set, IReadOnlySet<string> revokedKeyHex, VerifiedSignatureCache? cache = null)
    {
        Set = set;
        _cache = cache;
        _keys = new PublicKey[set.Anchors.Count];
        _revoked = new bool[set.Anchors.Count];
        for (var i = 0; i < set.Anchors.Count; i++)
        {
            var raw = set.Anchors[i].PublicKey.Span;
            if (!PublicKey.TryImport(Ed25519, raw, KeyBlobFormat.RawPublicKey, out var key) || key is null)
                throw new TrustConfigurationException($"anchor '{set.Anchors[i].Label}' is not a valid Ed25519 public key");
            _keys[i] = key;
            _index[new KeyBytes(raw)] = i;
            _revoked[i] = revokedKeyHex.Contains(set.Anchors[i].PublicKeyHex);
        }
        ActiveCount = _revoked.Count(r => !r);
    }

    public AnchorSet Set { get; }

    /// <summary>Anchors not revoked.</summary>
    public int ActiveCount { get; }

    public bool Contains(ReadOnlySpan<byte> publicKey) => publicKey.Length == 32 && _index.ContainsKey(new KeyBytes(publicKey));

    public bool IsActive(ReadOnlySpan<byte> publicKey) =>
        publicKey.Length == 32 && _index.TryGetValue(new KeyBytes(publicKey), out var i) && !_revoked[i];

    /// <summary>
    /// Counts distinct, active anchors with a valid signature over the document, stopping once <paramref name="enough"/>
    /// is reached. Unknown keys, revoked keys, repeats and bad signatures are skipped, never counted. Checks per anchor
    /// are counted before verifying and capped at <see cref="MaxChecksPerAnchor"/> (a stray bad copy beside the good one
    /// still lets it count): a document listing one anchor 64 times costs two checks, not 64.
    /// </summary>
    public int CountValid(SignedDocument document, int enough, Func<ReadOnlyMemory<byte>, bool>? exclude = null)
    {
        Span<bool> counted = stackalloc bool[_keys.Length];
        Span<byte> tries = stackalloc byte[_keys.Length];
        var message = document.SignedMessage.Span;
        var count = 0;
        foreach (var entry in document.Signatures)
        {
            if (entry.PublicKey.Length != 32 || !_index.TryGetValue(new KeyBytes(entry.PublicKey.Span), out var i)) continue;
            if (counted[i] || _revoked[i]) continue;
            if (exclude is not null && exclude(entry.PublicKey)) continue;
            if (tries[i]++ >= MaxChecksPerAnchor) continue;
            if (!Verify(i, entry, message)) continue;
            counted[i] = true;
            if (++count >= enough) break;
        }
        return count;
    }

    /// <summary>Most signature checks of one anchor per document.</summary>
    public const int MaxChecksPerAnchor = 2;

    /// <summary>Signature checks run (cache misses), for tests of the bound above.</summary>
    internal long SignatureChecks => Interlocked.Read(ref _signatureChecks);

    private long _signatureChecks;

    private bool Verify(int index, SignatureEntry entry, ReadOnlySpan<byte> message)
    {
        Interlocked.Increment(ref _signatureChecks);
        // The cache's digest does not frame its parts: only a 64-byte signature (and a 32-byte key, checked by the caller)
        // keeps (key, signature, message) unambiguous, so a signature of any other length is never looked up or stored.
        if (_cache is null || entry.Signature.Length != SignatureEntry.SignatureLength) return Ed25519.Verify(_keys[index], message, entry.Signature.Span);
        var digest = VerifiedSignatureCache.DigestOf(entry.PublicKey.Span, entry.Signature.Span, message);
        if (_cache.Contains(digest)) return true;
        if (!Ed25519.Verify(_keys[index], message, entry.Signature.Span)) return false;
        _cache.Add(digest);
        return true;
    }

    /// <summary>The raw 32 key bytes as a dictionary key.</summary>
    private readonly record struct KeyBytes(ulong A, ulong B, ulong C, ulong D)
    {
        public KeyBytes(ReadOnlySpan<byte> key)
            : this(BinaryPrimitives.ReadUInt64LittleEndian(key), BinaryPrimitives.ReadUInt64LittleEndian(key[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(key[16..]), BinaryPrimitives.ReadUInt64LittleEndian(key[24..]))
        {
        }
    }
}
