using System.Buffers.Binary;
using System.Security.Cryptography;

namespace KontinuumP2P.Dht.Routing;

/// <summary>
/// Keys whose kad id starts with a chosen 16-bit prefix, for bucket refresh. A table built once per process maps
/// every prefix to the smallest 4-byte counter whose SHA-256 starts with it (about 770,000 hashes, a fraction of a
/// second), so a key for bucket i costs one table read instead of 2^(i+1) hashes of random keys.
/// </summary>
internal static class PrefixKeys
{
    /// <summary>Bits of the kad id a table key fixes.</summary>
    public const int PrefixBits = 16;

    // Immutable once built; Lazy makes the one build thread-safe.
    private static readonly Lazy<uint[]> Table = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>A 4-byte key whose kad id (SHA-256) starts with the <see cref="PrefixBits"/> bits of <paramref name="prefix"/>.</summary>
    public static byte[] KeyWithPrefix(ushort prefix)
    {
        var key = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(key, Table.Value[prefix]);
        return key;
    }

    /// <summary>
    /// A key whose kad id shares exactly <paramref name="bucket"/> leading bits with <paramref name="local"/>
    /// (bucket below <see cref="PrefixBits"/>); the bits after the first differing one are drawn from <paramref name="random"/>.
    /// </summary>
    public static byte[] KeyInBucket(KadId local, int bucket, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(bucket, PrefixBits);
        Span<byte> target = stackalloc byte[32];
        local.RandomWithCommonPrefix(bucket, random).WriteBytes(target);
        return KeyWithPrefix(BinaryPrimitives.ReadUInt16BigEndian(target));
    }

    private static uint[] Build()
    {
        var table = new uint[1 << PrefixBits];
        var found = new bool[1 << PrefixBits];
        var left = found.Length;
        Span<byte> input = stackalloc byte[4];
        Span<byte> hash = stackalloc byte[32];
        for (uint counter = 0; left > 0; counter++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(input, counter);
            SHA256.HashData(input, hash);
            var prefix = BinaryPrimitives.ReadUInt16BigEndian(hash);
            if (found[prefix]) continue;
            found[prefix] = true;
            table[prefix] = counter;
            left--;
        }
        return table;
    }
}
