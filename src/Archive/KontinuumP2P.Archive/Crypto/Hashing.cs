namespace KontinuumP2P.Archive.Crypto;

/// <summary>BLAKE3 through the Blake3 package (managed SIMD).</summary>
internal static class Hashing
{
    public const int DigestLength = 32;

    public static byte[] Blake3(ReadOnlySpan<byte> data)
    {
        var digest = new byte[DigestLength];
        // One thread (SIMD): the package's multi-threaded join gave nothing measurable in bench archive on this busy
        // machine (docs/benchmarks.md), and one thread leaves the other core to the node.
        global::Blake3.Hasher.Hash(data, digest);
        return digest;
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
