namespace KontinuumP2P.Certs.Hashing;

/// <summary>Sizes, domain flags and the initial vector fixed by the BLAKE3 specification.</summary>
internal static class Blake3Constants
{
    public const int KeyLength = 32;
    public const int OutputLength = 32;
    public const int BlockLength = 64;
    public const int ChunkLength = 1024;
    public const int BlocksPerChunk = ChunkLength / BlockLength;

    /// <summary>Enough chaining values for 2^54 chunks, i.e. the whole 2^64-byte input space.</summary>
    public const int MaxTreeDepth = 54;

    public const uint ChunkStart = 1 << 0;
    public const uint ChunkEnd = 1 << 1;
    public const uint Parent = 1 << 2;
    public const uint Root = 1 << 3;
    public const uint KeyedHash = 1 << 4;
    public const uint DeriveKeyContext = 1 << 5;
    public const uint DeriveKeyMaterial = 1 << 6;

    public const uint IV0 = 0x6A09E667, IV1 = 0xBB67AE85, IV2 = 0x3C6EF372, IV3 = 0xA54FF53A;
    public const uint IV4 = 0x510E527F, IV5 = 0x9B05688C, IV6 = 0x1F83D9AB, IV7 = 0x5BE0CD19;

    /// <summary>The eight IV words (the SHA-256 IV), used as the key of the unkeyed modes.</summary>
    public static ReadOnlySpan<uint> IV => [IV0, IV1, IV2, IV3, IV4, IV5, IV6, IV7];
}
