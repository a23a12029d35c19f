using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static KontinuumP2P.Certs.Hashing.Blake3Constants;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>Sixteen independent inputs compressed side by side with AVX-512: lane i of every vector belongs to
/// input i, so one vector instruction does the same step of sixteen compressions.</summary>
internal static class Blake3Wide512
{
    public const int Lanes = 16;

    public static bool IsSupported => Avx512F.IsSupported;

    /// <summary>Hashes 16 inputs of <paramref name="blocks"/> blocks each, input i starting at byte
    /// i·<paramref name="strideBytes"/>, and writes the 8-word chaining value of input i at word 8·i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void HashMany(ReadOnlySpan<byte> input, int strideBytes, int blocks, ReadOnlySpan<uint> key,
        ulong counter, bool incrementCounter, uint flags, uint flagsStart, uint flagsEnd, Span<uint> output)
    {
        if (input.Length < strideBytes * (Lanes - 1) + blocks * BlockLength || output.Length < Lanes * 8 || key.Length < 8)
            throw new ArgumentException("short buffer");
        var h0 = Vector512.Create(key[0]); var h1 = Vector512.Create(key[1]);
        var h2 = Vector512.Create(key[2]); var h3 = Vector512.Create(key[3]);
        var h4 = Vector512.Create(key[4]); var h5 = Vector512.Create(key[5]);
        var h6 = Vector512.Create(key[6]); var h7 = Vector512.Create(key[7]);
        var laneStep = incrementCounter ? Vector512<ulong>.Indices : Vector512<ulong>.Zero;
        var counters0 = Vector512.Create(counter) + laneStep;
        var counters1 = Vector512.Create(counter + (incrementCounter ? 8ul : 0)) + laneStep;
        // Low and high halves of the sixteen 64-bit counters.
        var counterLow = Vector512.Narrow(counters0, counters1);
        var counterHigh = Vector512.Narrow(counters0 >>> 32, counters1 >>> 32);
        ref var inputRef = ref MemoryMarshal.GetReference(input);

        for (var block = 0; block < blocks; block++)
        {
            var blockFlags = flags | (block == 0 ? flagsStart : 0) | (block == blocks - 1 ? flagsEnd : 0);
            ref var blockRef = ref Unsafe.Add(ref inputRef, block * BlockLength);
            LoadTransposed(ref blockRef, strideBytes, out var m0, out var m1, out var m2, out var m3, out var m4,
                out var m5, out var m6, out var m7, out var m8, out var m9, out var m10, out var m11, out var m12,
                out var m13, out var m14, out var m15);

            Vector512<uint> v0 = h0, v1 = h1, v2 = h2, v3 = h3, v4 = h4, v5 = h5, v6 = h6, v7 = h7;
            var v8 = Vector512.Create(IV0); var v9 = Vector512.Create(IV1);
            var v10 = Vector512.Create(IV2); var v11 = Vector512.Create(IV3);
            var v12 = counterLow; var v13 = counterHigh;
            var v14 = Vector512.Create((uint)BlockLength); var v15 = Vector512.Create(blockFlags);
            for (var round = 0; round < 7; round++)
            {
                G(ref v0, ref v4, ref v8, ref v12, m0, m1);
                G(ref v1, ref v5, ref v9, ref v13, m2, m3);
                G(ref v2, ref v6, ref v10, ref v14, m4, m5);
                G(ref v3, ref v7, ref v11, ref v15, m6, m7);
                G(ref v0, ref v5, ref v10, ref v15, m8, m9);
                G(ref v1, ref v6, ref v11, ref v12, m10, m11);
                G(ref v2, ref v7, ref v8, ref v13, m12, m13);
                G(ref v3, ref v4, ref v9, ref v14, m14, m15);
                (m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15) =
                    (m2, m6, m3, m10, m7, m0, m4, m13, m1, m11, m12, m5, m9, m14, m15, m8);
            }
            h0 = v0 ^ v8; h1 = v1 ^ v9; h2 = v2 ^ v10; h3 = v3 ^ v11;
            h4 = v4 ^ v12; h5 = v5 ^ v13; h6 = v6 ^ v14; h7 = v7 ^ v15;
        }

        // Word j of input i goes to output[8i + j]; an unpack/shuffle transpose is not worth it once per chunk.
        Span<uint> words = stackalloc uint[Lanes * 8];
        ref var wordsRef = ref MemoryMarshal.GetReference(words);
        h0.StoreUnsafe(ref wordsRef, 0); h1.StoreUnsafe(ref wordsRef, 16);
        h2.StoreUnsafe(ref wordsRef, 32); h3.StoreUnsafe(ref wordsRef, 48);
        h4.StoreUnsafe(ref wordsRef, 64); h5.StoreUnsafe(ref wordsRef, 80);
        h6.StoreUnsafe(ref wordsRef, 96); h7.StoreUnsafe(ref wordsRef, 112);
        for (var lane = 0; lane < Lanes; lane++)
            for (var word = 0; word < 8; word++)
                output[lane * 8 + word] = words[word * Lanes + lane];
    }

    /// <summary>Loads one 64-byte block from each of the 16 inputs and transposes so mJ holds word J of every input:
    /// 4×4 transposes inside each 128-bit lane, then a 4×4 transpose of the 128-bit lanes themselves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadTransposed(ref byte block, int stride,
        out Vector512<uint> m0, out Vector512<uint> m1, out Vector512<uint> m2, out Vector512<uint> m3,
        out Vector512<uint> m4, out Vector512<uint> m5, out Vector512<uint> m6, out Vector512<uint> m7,
        out Vector512<uint> m8, out Vector512<uint> m9, out Vector512<uint> m10, out Vector512<uint> m11,
        out Vector512<uint> m12, out Vector512<uint> m13, out Vector512<uint> m14, out Vector512<uint> m15)
    {
        Transpose4(ref block, stride, 0, out var a0, out var a1, out var a2, out var a3);
        Transpose4(ref block, stride, 4, out var b0, out var b1, out var b2, out var b3);
        Transpose4(ref block, stride, 8, out var c0, out var c1, out var c2, out var c3);
        Transpose4(ref block, stride, 12, out var d0, out var d1, out var d2, out var d3);
        LaneTranspose(a0, b0, c0, d0, out m0, out m4, out m8, out m12);
        LaneTranspose(a1, b1, c1, d1, out m1, out m5, out m9, out m13);
        LaneTranspose(a2, b2, c2, d2, out m2, out m6, out m10, out m14);
        LaneTranspose(a3, b3, c3, d3, out m3, out m7, out m11, out m15);
    }

    /// <summary>For inputs first..first+3: tK's 128-bit lane L holds word 4L+K of those four inputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4(ref byte block, int stride, int first,
        out Vector512<uint> t0, out Vector512<uint> t1, out Vector512<uint> t2, out Vector512<uint> t3)
    {
        var r0 = Vector512.LoadUnsafe(ref Unsafe.Add(ref block, first * stride)).AsUInt32();
        var r1 = Vector512.LoadUnsafe(ref Unsafe.Add(ref block, (first + 1) * stride)).AsUInt32();
        var r2 = Vector512.LoadUnsafe(ref Unsafe.Add(ref block, (first + 2) * stride)).AsUInt32();
        var r3 = Vector512.LoadUnsafe(ref Unsafe.Add(ref block, (first + 3) * stride)).AsUInt32();
        var ab01 = Avx512F.UnpackLow(r0, r1).AsUInt64();
        var ab23 = Avx512F.UnpackHigh(r0, r1).AsUInt64();
        var cd01 = Avx512F.UnpackLow(r2, r3).AsUInt64();
        var cd23 = Avx512F.UnpackHigh(r2, r3).AsUInt64();
        t0 = Avx512F.UnpackLow(ab01, cd01).AsUInt32();
        t1 = Avx512F.UnpackHigh(ab01, cd01).AsUInt32();
        t2 = Avx512F.UnpackLow(ab23, cd23).AsUInt32();
        t3 = Avx512F.UnpackHigh(ab23, cd23).AsUInt32();
    }

    /// <summary>Transposes 128-bit lanes: output L gets lane L of a, b, c, d in that order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LaneTranspose(Vector512<uint> a, Vector512<uint> b, Vector512<uint> c, Vector512<uint> d,
        out Vector512<uint> lane0, out Vector512<uint> lane1, out Vector512<uint> lane2, out Vector512<uint> lane3)
    {
        const byte evenLanes = 0b10_00_10_00, oddLanes = 0b11_01_11_01;
        var abEven = Avx512F.Shuffle4x128(a, b, evenLanes); // a0 a2 b0 b2
        var abOdd = Avx512F.Shuffle4x128(a, b, oddLanes);   // a1 a3 b1 b3
        var cdEven = Avx512F.Shuffle4x128(c, d, evenLanes);
        var cdOdd = Avx512F.Shuffle4x128(c, d, oddLanes);
        lane0 = Avx512F.Shuffle4x128(abEven, cdEven, evenLanes);
        lane2 = Avx512F.Shuffle4x128(abEven, cdEven, oddLanes);
        lane1 = Avx512F.Shuffle4x128(abOdd, cdOdd, evenLanes);
        lane3 = Avx512F.Shuffle4x128(abOdd, cdOdd, oddLanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void G(ref Vector512<uint> a, ref Vector512<uint> b, ref Vector512<uint> c, ref Vector512<uint> d,
        Vector512<uint> x, Vector512<uint> y)
    {
        a = a + b + x;
        d = Avx512F.RotateRight(d ^ a, 16);
        c += d;
        b = Avx512F.RotateRight(b ^ c, 12);
        a = a + b + y;
        d = Avx512F.RotateRight(d ^ a, 8);
        c += d;
        b = Avx512F.RotateRight(b ^ c, 7);
    }
}
