using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Dht.Routing;

/// <summary>
/// A 256-bit Kademlia identifier: SHA-256 of a key (for peers, of the PeerId multihash bytes). Also used for XOR
/// distances, which compare as 256-bit big-endian unsigned integers.
/// </summary>
public readonly struct KadId : IEquatable<KadId>, IComparable<KadId>
{
    /// <summary>Number of bits in an id.</summary>
    public const int Bits = 256;

    private readonly ulong _w0, _w1, _w2, _w3; // big-endian words: _w0 holds the most significant bits

    private KadId(ulong w0, ulong w1, ulong w2, ulong w3) => (_w0, _w1, _w2, _w3) = (w0, w1, w2, w3);

    /// <summary>The all-zero id (the distance of an id to itself).</summary>
    public static KadId Zero => default;

    /// <summary>Reads 32 raw bytes as an id (no hashing).</summary>
    public static KadId FromRawBytes(ReadOnlySpan<byte> bytes32)
    {
        if (bytes32.Length != 32) throw new ArgumentException("a kad id is 32 bytes", nameof(bytes32));
        return new KadId(
            BinaryPrimitives.ReadUInt64BigEndian(bytes32),
            BinaryPrimitives.ReadUInt64BigEndian(bytes32[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes32[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes32[24..]));
    }

    /// <summary>The kad id of a DHT key: SHA-256 of its bytes.</summary>
    public static KadId FromKey(ReadOnlySpan<byte> key)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(key, hash);
        return FromRawBytes(hash);
    }

    /// <summary>The kad id of a peer: SHA-256 of its multihash bytes (cached by the <see cref="PeerId"/> instance).</summary>
    public static KadId FromPeer(PeerId peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return FromRawBytes(peer.Sha256Digest);
    }

    /// <summary>XOR distance between two ids.</summary>
    public KadId DistanceTo(KadId other) => new(_w0 ^ other._w0, _w1 ^ other._w1, _w2 ^ other._w2, _w3 ^ other._w3);

    /// <summary>Number of leading bits two ids share (256 when equal): the bucket index of <paramref name="other"/>.</summary>
    public int CommonPrefixLength(KadId other) => DistanceTo(other).LeadingZeroCount();

    /// <summary>Number of leading zero bits.</summary>
    public int LeadingZeroCount()
    {
        if (_w0 != 0) return BitOperations.LeadingZeroCount(_w0);
        if (_w1 != 0) return 64 + BitOperations.LeadingZeroCount(_w1);
        if (_w2 != 0) return 128 + BitOperations.LeadingZeroCount(_w2);
        return 192 + BitOperations.LeadingZeroCount(_w3);
    }

    /// <summary>Whether bit <paramref name="index"/> is set, counting from the most significant bit (0..255).</summary>
    internal bool IsBitSet(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Bits);
        var word = (index >> 6) switch { 0 => _w0, 1 => _w1, 2 => _w2, _ => _w3 };
        return (word & (1UL << (63 - (index & 63)))) != 0;
    }

    /// <summary>
    /// A random id whose common prefix with this id is exactly <paramref name="prefixLength"/> bits (for bucket
    /// refresh lookups). <paramref name="prefixLength"/> must be below 256.
    /// </summary>
    public KadId RandomWithCommonPrefix(int prefixLength, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(prefixLength, Bits);
        Span<byte> bytes = stackalloc byte[32];
        random.NextBytes(bytes);
        Span<byte> self = stackalloc byte[32];
        WriteBytes(self);
        for (var bit = 0; bit <= prefixLength; bit++)
        {
            var mask = (byte)(0x80 >> (bit % 8));
            var same = (self[bit / 8] & mask) != 0;
            // Bits before the prefix length match ours; the bit at the prefix length differs.
            var set = bit < prefixLength ? same : !same;
            bytes[bit / 8] = set ? (byte)(bytes[bit / 8] | mask) : (byte)(bytes[bit / 8] & ~mask);
        }
        return FromRawBytes(bytes);
    }

    /// <summary>Writes the 32 big-endian bytes.</summary>
    public void WriteBytes(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _w0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _w1);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _w2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _w3);
    }

    /// <summary>The 32 big-endian bytes.</summary>
    public byte[] ToByteArray()
    {
        var bytes = new byte[32];
        WriteBytes(bytes);
        return bytes;
    }

    /// <inheritdoc />
    public int CompareTo(KadId other)
    {
        if (_w0 != other._w0) return _w0.CompareTo(other._w0);
        if (_w1 != other._w1) return _w1.CompareTo(other._w1);
        if (_w2 != other._w2) return _w2.CompareTo(other._w2);
        return _w3.CompareTo(other._w3);
    }

    /// <inheritdoc />
    public bool Equals(KadId other) => _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is KadId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_w0, _w1, _w2, _w3);

    /// <inheritdoc />
    public override string ToString() => Convert.ToHexStringLower(ToByteArray());

    /// <summary>Equality.</summary>
    public static bool operator ==(KadId left, KadId right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(KadId left, KadId right) => !left.Equals(right);

    /// <summary>Ordering as 256-bit unsigned integers.</summary>
    public static bool operator <(KadId left, KadId right) => left.CompareTo(right) < 0;

    /// <summary>Ordering as 256-bit unsigned integers.</summary>
    public static bool operator >(KadId left, KadId right) => left.CompareTo(right) > 0;

    /// <summary>Ordering as 256-bit unsigned integers.</summary>
    public static bool operator <=(KadId left, KadId right) => left.CompareTo(right) <= 0;

    /// <summary>Ordering as 256-bit unsigned integers.</summary>
    public static bool operator >=(KadId left, KadId right) => left.CompareTo(right) >= 0;
}
