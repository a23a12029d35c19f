using System.Buffers;
using System.Buffers.Binary;

namespace KontinuumP2P.Certs.Trust;

/// <summary>
/// Remembers (key, signature, message) triples that verified, by their BLAKE3 digest, so a document seen again — a DHT
/// record returned by many peers, a certificate re-checked at each connection — costs a hash instead of Ed25519
/// verifications. It records only a cryptographic fact, never a trust decision, so thresholds, revocations and
/// validity windows are always evaluated afresh. Bounded: cleared when full. Thread-safe.
/// </summary>
internal sealed class VerifiedSignatureCache
{
    public const int DefaultCapacity = 65_536;

    private readonly Lock _lock = new();
    private readonly HashSet<Digest> _verified = [];
    private readonly int _capacity;

    public VerifiedSignatureCache(int capacity = DefaultCapacity) => _capacity = capacity;

    public static Digest DigestOf(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> signature, ReadOnlySpan<byte> message)
    {
        // One-shot BLAKE3 over the concatenation: as collision-resistant as SHA-256 for a 256-bit key, and without the
        // OpenSSL context SHA-256 created, cleared and freed per call (~3 % of a 10,000-node simulation's CPU).
        var length = publicKey.Length + signature.Length + message.Length;
        byte[]? rented = null;
        var joined = length <= 1024 ? stackalloc byte[length] : (rented = ArrayPool<byte>.Shared.Rent(length)).AsSpan(0, length);
        publicKey.CopyTo(joined);
        signature.CopyTo(joined[publicKey.Length..]);
        message.CopyTo(joined[(publicKey.Length + signature.Length)..]);
        Span<byte> digest = stackalloc byte[32];
        KontinuumP2P.Certs.Hashing.Blake3.Hash(joined, digest);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        return new Digest(digest);
    }

    public bool Contains(in Digest digest)
    {
        lock (_lock) return _verified.Contains(digest);
    }

    public void Add(in Digest digest)
    {
        lock (_lock)
        {
            if (_verified.Count >= _capacity) _verified.Clear();
            _verified.Add(digest);
        }
    }

    /// <summary>A 256-bit digest as a value key.</summary>
    internal readonly record struct Digest(ulong A, ulong B, ulong C, ulong D)
    {
        public Digest(ReadOnlySpan<byte> bytes)
            : this(BinaryPrimitives.ReadUInt64LittleEndian(bytes), BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]), BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]))
        {
        }
    }
}
