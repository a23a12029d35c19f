using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static KontinuumP2P.Certs.Hashing.Blake3Constants;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>Routes single-block and many-input compressions to the code of a <see cref="Blake3Backend"/>.</summary>
internal static class Blake3Compressor
{
    /// <summary>Compresses one block of bytes; writes 8 words, or 16 when <paramref name="output"/> has room.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    public static void CompressBlock(Blake3Backend backend, ReadOnlySpan<uint> cv, ReadOnlySpan<byte> block,
        ulong counter, uint blockLength, uint flags, Span<uint> output)
    {
        if (backend == Blake3Backend.Scalar) Blake3Scalar.Compress(cv, block, counter, blockLength, flags, output);
        else Blake3Vector128.Compress(cv, block, counter, blockLength, flags, output);
    }

    /// <summary>Compresses the parent node whose block is the 16 words <paramref name="children"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    public static void CompressParent(Blake3Backend backend, ReadOnlySpan<uint> children, ReadOnlySpan<uint> key,
        uint flags, Span<uint> output)
    {
        if (backend == Blake3Backend.Scalar)
        {
            // The scalar path stays endian-neutral, so serialise the words explicitly.
            Span<byte> block = stackalloc byte[BlockLength];
            for (var i = 0; i < 16; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(block[(4 * i)..], children[i]);
            Blake3Scalar.Compress(key, block, 0, BlockLength, flags | Parent, output);
        }
        else
        {
            Blake3Vector128.Compress(key, MemoryMarshal.AsBytes(children[..16]), 0, BlockLength, flags | Parent, output);
        }
    }

    /// <summary>Hashes <paramref name="count"/> whole chunks laid end to end (chunk i has counter
    /// <paramref name="counter"/> + i) and writes their chaining values, 8 words each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    public static void HashChunks(Blake3Backend backend, ReadOnlySpan<byte> input, int count, ReadOnlySpan<uint> key,
        ulong counter, uint flags, Span<uint> output)
    {
        var done = HashManyWide(backend, input, ChunkLength, count, BlocksPerChunk, key, counter, true, flags,
            ChunkStart, ChunkEnd, output);
        Span<uint> cv = stackalloc uint[8];
        for (var i = done; i < count; i++)
        {
            key[..8].CopyTo(cv);
            var chunk = input.Slice(i * ChunkLength, ChunkLength);
            for (var block = 0; block < BlocksPerChunk; block++)
            {
                var blockFlags = flags | (block == 0 ? ChunkStart : 0) | (block == BlocksPerChunk - 1 ? ChunkEnd : 0);
                CompressBlock(backend, cv, chunk.Slice(block * BlockLength, BlockLength), counter + (ulong)i,
                    BlockLength, blockFlags, cv);
            }
            cv.CopyTo(output.Slice(i * 8, 8));
        }
    }

    /// <summary>Compresses <paramref name="count"/> parents whose children are consecutive pairs of chaining
    /// values in <paramref name="children"/> (16 words per parent); writes 8 words per parent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    public static void HashParents(Blake3Backend backend, ReadOnlySpan<uint> children, int count,
        ReadOnlySpan<uint> key, uint flags, Span<uint> output)
    {
        var done = backend == Blake3Backend.Scalar ? 0 : HashManyWide(backend, MemoryMarshal.AsBytes(children),
            BlockLength, count, 1, key, 0, false, flags | Parent, 0, 0, output);
        for (var i = done; i < count; i++)
            CompressParent(backend, children.Slice(i * 16, 16), key, flags, output.Slice(i * 8, 8));
    }

    /// <summary>Runs the widest hash-many kernels the backend allows; returns how many inputs they covered.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    private static int HashManyWide(Blake3Backend backend, ReadOnlySpan<byte> input, int stride, int count, int blocks,
        ReadOnlySpan<uint> key, ulong counter, bool incrementCounter, uint flags, uint flagsStart, uint flagsEnd,
        Span<uint> output)
    {
        var done = 0;
        if (backend >= Blake3Backend.Vector512)
            for (; count - done >= Blake3Wide512.Lanes; done += Blake3Wide512.Lanes)
                Blake3Wide512.HashMany(input[(done * stride)..], stride, blocks, key,
                    counter + (incrementCounter ? (ulong)done : 0), incrementCounter, flags, flagsStart, flagsEnd,
                    output[(done * 8)..]);
        if (backend >= Blake3Backend.Vector256)
            for (; count - done >= Blake3Wide256.Lanes; done += Blake3Wide256.Lanes)
                Blake3Wide256.HashMany(input[(done * stride)..], stride, blocks, key,
                    counter + (incrementCounter ? (ulong)done : 0), incrementCounter, flags, flagsStart, flagsEnd,
                    output[(done * 8)..]);
        if (backend >= Blake3Backend.Vector128)
            for (; count - done >= Blake3Wide128.Lanes; done += Blake3Wide128.Lanes)
                Blake3Wide128.HashMany(input[(done * stride)..], stride, blocks, key,
                    counter + (incrementCounter ? (ulong)done : 0), incrementCounter, flags, flagsStart, flagsEnd,
                    output[(done * 8)..]);
        return done;
    }
}
