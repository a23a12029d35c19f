using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static KontinuumP2P.Certs.Hashing.Blake3Constants;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>Eight independent inputs compressed side by side with AVX2 (lane i of every vector is input i).</summary>
internal static class Blake3Wide256
{
    public const int Lanes = 8;

    public static bool IsSupported => Avx2.IsSupported;

    /// <summary>Same contract as <see cref="Blake3Wide512.HashMany"/> for eight inputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void HashMany(ReadOnlySpan<byte> input, int strideBytes, int blocks, ReadOnlySpan<uint> key,
        ulong counter, bool incrementCounter, uint flags, uint flagsStart, uint flagsEnd, Span<uint> output)
    {
        if (input.Length < strideBytes * (Lanes - 1) + blocks * BlockLength || output.Length < Lanes * 8 || key.Length < 8)
            throw new ArgumentException("short buffer");
        var h0 = Vector256.Create(key[0]); var h1 = Vector256.Create(key[1]);
        var h2 = Vector256.Create(key[2]); var h3 = Vector256.Create(key[3]);
        var h4 = Vector256.Create(key[4]); var h5 = Vector256.Create(key[5]);
        var h6 = Vector256.Create(key[6]); var h7 = Vector256.Create(key[7]);
        var laneStep = incrementCounter ? Vector256<ulong>.Indices : Vector256<ulong>.Zero;
        var counters0 = Vector256.Create(counter) + laneStep;
        var counters1 = Vector256.Create(counter + (incrementCounter ? 4ul : 0)) + laneStep;
        var counterLow = Vector256.Narrow(counters0, counters1);
        var counterHigh = Vector256.Narrow(counters0 >>> 32, counters1 >>> 32);
        ref var inputRef = ref MemoryMarshal.GetReference(input);

        for (var block = 0; block < blocks; block++)
        {
            var blockFlags = flags | (block == 0 ? flagsStart : 0) | (block == blocks - 1 ? flagsEnd : 0);
            ref var blockRef = ref Unsafe.Add(ref inputRef, block * BlockLength);
            Transpose8(ref blockRef, strideBytes, 0, out var m0, out var m1, out var m2, out var m3,
                out var m4, out var m5, out var m6, out var m7);
            Transpose8(ref blockRef, strideBytes, 32, out var m8, out var m9, out var m10, out var m11,
                out var m12, out var m13, out var m14, out var m15);

            Vector256<uint> v0 = h0, v1 = h1, v2 = h2, v3 = h3, v4 = h4, v5 = h5, v6 = h6, v7 = h7;
            var v8 = Vector256.Create(IV0); var v9 = Vector256.Create(IV1);
            var v10 = Vector256.Create(IV2); var v11 = Vector256.Create(IV3);
            var v12 = counterLow; var v13 = counterHigh;
            var v14 = Vector256.Create((uint)BlockLength); var v15 = Vector256.Create(blockFlags);
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

        Span<uint> words = stackalloc uint[Lanes * 8];
        ref var wordsRef = ref MemoryMarshal.GetReference(words);
        h0.StoreUnsafe(ref wordsRef, 0); h1.StoreUnsafe(ref wordsRef, 8);
        h2.StoreUnsafe(ref wordsRef, 16); h3.StoreUnsafe(ref wordsRef, 24);
        h4.StoreUnsafe(ref wordsRef, 32); h5.StoreUnsafe(ref wordsRef, 40);
        h6.StoreUnsafe(ref wordsRef, 48); h7.StoreUnsafe(ref wordsRef, 56);
        for (var lane = 0; lane < Lanes; lane++)
            for (var word = 0; word < 8; word++)
                output[lane * 8 + word] = words[word * Lanes + lane];
    }

    /// <summary>Loads 32 bytes at <paramref name="offset"/> from each of the eight inputs and transposes the 8×8
    /// words: 4×4 transposes inside 128-bit halves, then the halves are exchanged across input groups.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(ref byte block, int stride, int offset,
        out Vector256<uint> w0, out Vector256<uint> w1, out Vector256<uint> w2, out Vector256<uint> w3,
        out Vector256<uint> w4, out Vector256<uint> w5, out Vector256<uint> w6, out Vector256<uint> w7)
    {
        Transpose4(ref Unsafe.Add(ref block, offset), stride, 0, out var a0, out var a1, out var a2, out var a3);
        Transpose4(ref Unsafe.Add(ref block, offset), stride, 4, out var b0, out var b1, out var b2, out var b3);
        w0 = Avx2.Permute2x128(a0, b0, 0x20); w4 = Avx2.Permute2x128(a0, b0, 0x31);
        w1 = Avx2.Permute2x128(a1, b1, 0x20); w5 = Avx2.Permute2x128(a1, b1, 0x31);
        w2 = Avx2.Permute2x128(a2, b2, 0x20); w6 = Avx2.Permute2x128(a2, b2, 0x31);
        w3 = Avx2.Permute2x128(a3, b3, 0x20); w7 = Avx2.Permute2x128(a3, b3, 0x31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4(ref byte block, int stride, int first,
        out Vector256<uint> t0, out Vector256<uint> t1, out Vector256<uint> t2, out Vector256<uint> t3)
    {
        var r0 = Vector256.LoadUnsafe(ref Unsafe.Add(ref block, first * stride)).AsUInt32();
        var r1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref block, (first + 1) * stride)).AsUInt32();
        var r2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref block, (first + 2) * stride)).AsUInt32();
        var r3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref block, (first + 3) * stride)).AsUInt32();
        var ab01 = Avx2.UnpackLow(r0, r1).AsUInt64();
        var ab23 = Avx2.UnpackHigh(r0, r1).AsUInt64();
        var cd01 = Avx2.UnpackLow(r2, r3).AsUInt64();
        var cd23 = Avx2.UnpackHigh(r2, r3).AsUInt64();
        t0 = Avx2.UnpackLow(ab01, cd01).AsUInt32();
        t1 = Avx2.UnpackHigh(ab01, cd01).AsUInt32();
        t2 = Avx2.UnpackLow(ab23, cd23).AsUInt32();
        t3 = Avx2.UnpackHigh(ab23, cd23).AsUInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void G(ref Vector256<uint> a, ref Vector256<uint> b, ref Vector256<uint> c, ref Vector256<uint> d,
        Vector256<uint> x, Vector256<uint> y)
    {
        a = a + b + x;
        d = Blake3Rotate.By16(d ^ a);
        c += d;
        b = Blake3Rotate.By12(b ^ c);
        a = a + b + y;
        d = Blake3Rotate.By8(d ^ a);
        c += d;
        b = Blake3Rotate.By7(b ^ c);
    }
}
