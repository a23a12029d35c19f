extern alias Blake3Package;
using System.Buffers;
using PackageHasher = Blake3Package::Blake3.Hasher;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>One-shot BLAKE3: the plain hash, the keyed hash and key derivation, each with a 32-byte result or
/// extended output of any length. Backed by the managed SIMD code of the Blake3 package (widest vectors the CPU
/// supports); this class and <see cref="Blake3Hasher"/> are the API the rest of the code uses.</summary>
public static class Blake3
{
    /// <summary>Length of the standard output, in bytes.</summary>
    public const int HashSizeInBytes = 32;

    /// <summary>Length of a keyed-hash key, in bytes.</summary>
    public const int KeySizeInBytes = 32;

    /// <summary>Buffer size used when reading streams: large enough to feed the 16-way kernel many times per read.</summary>
    internal const int StreamBufferSize = 256 * 1024;

    /// <summary>The 32-byte hash of <paramref name="input"/>.</summary>
    public static byte[] Hash(ReadOnlySpan<byte> input)
    {
        var hash = new byte[HashSizeInBytes];
        Hash(input, hash);
        return hash;
    }

    /// <summary>Fills <paramref name="output"/> with the hash of <paramref name="input"/>: 32 bytes is the standard
    /// hash, any other length is the extended output (a 32-byte output is a prefix of every longer one).</summary>
    public static void Hash(ReadOnlySpan<byte> input, Span<byte> output) => PackageHasher.Hash(input, output);

    /// <summary>Fills <paramref name="output"/> with extended output starting at byte <paramref name="seek"/>.</summary>
    public static void HashXof(ReadOnlySpan<byte> input, Span<byte> output, ulong seek)
    {
        var hasher = PackageHasher.New();
        hasher.Update(input);
        hasher.Finalize(seek, output);
    }

    /// <summary>The 32-byte keyed hash (MAC) of <paramref name="input"/> under a 32-byte key.</summary>
    /// <exception cref="ArgumentException">The key is not 32 bytes.</exception>
    public static byte[] KeyedHash(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input)
    {
        var hash = new byte[HashSizeInBytes];
        KeyedHash(key, input, hash);
        return hash;
    }

    /// <summary>Fills <paramref name="output"/> (any length) with the keyed hash of <paramref name="input"/>.</summary>
    /// <exception cref="ArgumentException">The key is not 32 bytes.</exception>
    public static void KeyedHash(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> output)
    {
        var hasher = Blake3Hasher.CreateKeyed(key);
        hasher.Update(input);
        hasher.Finalize(output);
    }

    /// <summary>Derives a 32-byte key from <paramref name="keyMaterial"/> for the given context string.</summary>
    /// <param name="context">A hard-coded, globally unique, application-specific string.</param>
    /// <param name="keyMaterial">The secret input key material.</param>
    public static byte[] DeriveKey(string context, ReadOnlySpan<byte> keyMaterial)
    {
        var key = new byte[HashSizeInBytes];
        DeriveKey(context, keyMaterial, key);
        return key;
    }

    /// <summary>Fills <paramref name="output"/> (any length) with key material derived for the context string.</summary>
    public static void DeriveKey(string context, ReadOnlySpan<byte> keyMaterial, Span<byte> output)
    {
        var hasher = Blake3Hasher.CreateDeriveKey(context);
        hasher.Update(keyMaterial);
        hasher.Finalize(output);
    }

    /// <summary>Hashes everything left in <paramref name="stream"/>, reading it in fixed-size pieces (a file of any
    /// size never sits in memory whole).</summary>
    public static async Task<byte[]> HashStreamAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var hasher = new Blake3Hasher();
        var buffer = RentReadBuffer(out var start);
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer.AsMemory(start, StreamBufferSize), cancellationToken).ConfigureAwait(false)) > 0)
                hasher.Update(buffer.AsSpan(start, read));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return hasher.FinalizeToArray();
    }

    /// <summary>Rents a read buffer of <see cref="StreamBufferSize"/> bytes from <paramref name="start"/> on, where the
    /// data is 64-byte aligned: then every 64-byte block load touches one cache line, not two. Pooled arrays this large live on the large-object heap, which does not move them.</summary>
    internal static unsafe byte[] RentReadBuffer(out int start)
    {
        const int alignment = 64;
        var buffer = ArrayPool<byte>.Shared.Rent(StreamBufferSize + alignment);
        fixed (byte* data = buffer)
            start = (int)((alignment - ((nint)data & (alignment - 1))) & (alignment - 1));
        return buffer;
    }
}
