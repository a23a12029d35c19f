namespace KontinuumP2P.Archive.Crypto;

/// <summary>BLAKE3 through the Blake3 package (managed SIMD).</summary>
internal static class Hashing
{
    public const int DigestLength = 32;

    public static byte[] Blake3(ReadOnlySpan<byte> data)
    {
        var digest = new byte[DigestLength];
        // Large inputs hash in parallel (packs are megabytes); small ones stay on this thread.
        if (data.Length >= 1 << 20)
        {
            using var hasher = global::Blake3.Hasher.New();
            hasher.UpdateWithJoin(data);
            hasher.Finalize(digest);
        }
        else
        {
            global::Blake3.Hasher.Hash(data, digest);
        }
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
