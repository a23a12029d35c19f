namespace KontinuumP2P.Archive.Crypto;

/// <summary>BLAKE3 through the Blake3 package (managed SIMD).</summary>
internal static class Hashing
{
    public const int DigestLength = 32;

    /// <summary>
    /// Inputs at least this long are hashed with the package's multi-threaded join. Measured on the 2-core AVX2 machine
    /// (docs/benchmarks.md "Cold archive"): one-shot 0.66 ns/B of CPU on one core, the join 0.87 ns/B of CPU over both
    /// cores, i.e. about 1.5× less wall time for 25 % more CPU; below 1 MiB the split is not worth its scheduling.
    /// </summary>
    public const int JoinThreshold = 1 << 20;

    /// <summary>One-shot BLAKE3 on the calling thread (small inputs: ids, manifests, links).</summary>
    public static byte[] Blake3(ReadOnlySpan<byte> data)
    {
        var digest = new byte[DigestLength];
        Blake3(data, digest);
        return digest;
    }

    /// <summary>One-shot BLAKE3 into <paramref name="digest"/>; large inputs (≥ <see cref="JoinThreshold"/>) on all cores.</summary>
    public static void Blake3(ReadOnlySpan<byte> data, Span<byte> digest)
    {
        if (data.Length < JoinThreshold)
        {
            global::Blake3.Hasher.Hash(data, digest);
            return;
        }
        using var hasher = global::Blake3.Hasher.New();
        hasher.UpdateWithJoin(data);
        hasher.Finalize(digest);
    }

    /// <summary>True when BLAKE3 of <paramref name="data"/> is <paramref name="expected"/>, without allocating.</summary>
    public static bool Blake3Matches(ReadOnlySpan<byte> data, ReadOnlySpan<byte> expected)
    {
        Span<byte> digest = stackalloc byte[DigestLength];
        Blake3(data, digest);
        return digest.SequenceEqual(expected);
    }

    public static byte[] KeyedBlake3(ReadOnlySpan<byte> key, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, int length)
    {
        using var hasher = global::Blake3.Hasher.NewKeyed(key);
        hasher.Update(a);
        hasher.UpdateWithJoin(b);
        var output = new byte[length];
        hasher.Finalize(output);
        return output;
    }
}
