namespace KontinuumP2P.Certs.Hashing;

/// <summary>Which compression code a hasher uses. Each level also uses every narrower level for leftovers.
/// Tests force each one the machine supports; production code always takes <see cref="Blake3Backends.Best"/>.</summary>
internal enum Blake3Backend
{
    /// <summary>Portable 32-bit arithmetic only.</summary>
    Scalar = 0,

    /// <summary>Row-vector single-block compression and 4-way hash-many (SSE2 / AdvSimd).</summary>
    Vector128 = 1,

    /// <summary>Adds 8-way hash-many with AVX2.</summary>
    Vector256 = 2,

    /// <summary>Adds 16-way hash-many with AVX-512.</summary>
    Vector512 = 3,
}

/// <summary>Detects which <see cref="Blake3Backend"/> levels the running CPU supports.</summary>
internal static class Blake3Backends
{
    /// <summary>The widest backend this machine runs.</summary>
    public static Blake3Backend Best { get; } = Detect();

    /// <summary>Whether <paramref name="backend"/> can run here.</summary>
    public static bool IsSupported(Blake3Backend backend) => backend switch
    {
        Blake3Backend.Scalar => true,
        Blake3Backend.Vector128 => Blake3Vector128.IsSupported && Blake3Wide128.IsSupported,
        Blake3Backend.Vector256 => IsSupported(Blake3Backend.Vector128) && Blake3Wide256.IsSupported,
        Blake3Backend.Vector512 => IsSupported(Blake3Backend.Vector256) && Blake3Wide512.IsSupported,
        _ => false,
    };

    private static Blake3Backend Detect()
    {
        for (var level = Blake3Backend.Vector512; level > Blake3Backend.Scalar; level--)
            if (IsSupported(level)) return level;
        return Blake3Backend.Scalar;
    }
}
