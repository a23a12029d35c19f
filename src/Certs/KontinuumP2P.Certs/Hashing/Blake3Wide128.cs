using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using static KontinuumP2P.Certs.Hashing.Blake3Constants;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>Four independent inputs compressed side by side with SSE2 or AdvSimd (lane i of every vector is input i).</summary>
internal static class Blake3Wide128
{
    public const int Lanes = 4;

    public static bool IsSupported => BitConverter.IsLittleEndian && (Sse2.IsSupported || AdvSimd.Arm64.IsSupported);

    /// <summary>Same contract as <see cref="Blake3Wide512.HashMany"/> for four inputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void HashMany(ReadOnlySpan<byte> input, int strideBytes, int blocks, ReadOnlySpan<uint> key,
        ulong counter, bool incrementCounter, uint flags, uint flagsStart, uint flagsEnd, Span<uint> output)
    {
        if (input.Length < strideBytes * (Lanes - 1) + blocks * BlockLength || output.Length < Lanes * 8 || key.Length < 8)
            throw new ArgumentException("short buffer");
        var h0 = Vector128.Create(key[0]); var h1 = Vector128.Create(key[1]);
        var h2 = Vector128.Create(key[2]); var h3 = Vector128.Create(key[3]);
        var h4 = Vector128.Create(key[4]); var h5 = Vector128.Create(key[5]);
        var h6 = Vector128.Create(key[6]); var h7 = Vector128.Create(key[7]);
        var laneStep = incrementCounter ? Vector128<ulong>.Indices : Vector128<ulong>.Zero;
        var counters0 = Vector128.Create(counter) + laneStep;
        var counters1 = Vector128.Create(counter + (incrementCounter ? 2ul : 0)) + laneStep;
        var counterLow = Vector128.Narrow(counters0, counters1);
        var counterHigh = Vector128.Narrow(counters0 >>> 32, counters1 >>> 32);
        ref var inputRef = ref MemoryMarshal.GetReference(input);

        for (var block = 0; block < blocks; block++)
        {
            var blockFlags = flags | (block == 0 ? flagsStart : 0) | (block == blocks - 1 ? flagsEnd : 0);
            ref var blockRef = ref Unsafe.Add(ref inputRef, block * BlockLength);
            Transpose4(ref blockRef, strideBytes, 0, out var m0, out var m1, out var m2, out var m3);
            Transpose4(ref blockRef, strideBytes, 16, out var m4, out var m5, out var m6, out var m7);
            Transpose4(ref blockRef, strideBytes, 32, out var m8, out var m9, out var m10, out var m11);
            Transpose4(ref blockRef, strideBytes, 48, out var m12, out var m13, out var m14, out var m15);

            Vector128<uint> v0 = h0, v1 = h1, v2 = h2, v3 = h3, v4 = h4, v5 = h5, v6 = h6, v7 = h7;
            var v8 = Vector128.Create(IV0); var v9 = Vector128.Create(IV1);
            var v10 = Vector128.Create(IV2); var v11 = Vector128.Create(IV3);
            var v12 = counterLow; var v13 = counterHigh;
            var v14 = Vector128.Create((uint)BlockLength); var v15 = Vector128.Create(blockFlags);
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
        h0.StoreUnsafe(ref wordsRef, 0); h1.StoreUnsafe(ref wordsRef, 4);
        h2.StoreUnsafe(ref wordsRef, 8); h3.StoreUnsafe(ref wordsRef, 12);
        h4.StoreUnsafe(ref wordsRef, 16); h5.StoreUnsafe(ref wordsRef, 20);
        h6.StoreUnsafe(ref wordsRef, 24); h7.StoreUnsafe(ref wordsRef, 28);
        for (var lane = 0; lane < Lanes; lane++)
            for (var word = 0; word < 8; word++)
                output[lane * 8 + word] = words[word * Lanes + lane];
    }

    /// <summary>Loads 16 bytes at <paramref name="offset"/> from each input; tK gets word K of every input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4(ref byte block, int stride, int offset,
        out Vector128<uint> t0, out Vector128<uint> t1, out Vector128<uint> t2, out Vector128<uint> t3)
    {
        var r0 = Vector128.LoadUnsafe(ref Unsafe.Add(ref block, offset)).AsUInt32();
        var r1 = Vector128.LoadUnsafe(ref Unsafe.Add(ref block, offset + stride)).AsUInt32();
        var r2 = Vector128.LoadUnsafe(ref Unsafe.Add(ref block, offset + 2 * stride)).AsUInt32();
        var r3 = Vector128.LoadUnsafe(ref Unsafe.Add(ref block, offset + 3 * stride)).AsUInt32();
        Interleave(r0, r1, out var ab01, out var ab23);
        Interleave(r2, r3, out var cd01, out var cd23);
        Interleave(ab01.AsUInt64(), cd01.AsUInt64(), out var w01, out var w23);
        Interleave(ab23.AsUInt64(), cd23.AsUInt64(), out var w45, out var w67);
        t0 = w01.AsUInt32(); t1 = w23.AsUInt32(); t2 = w45.AsUInt32(); t3 = w67.AsUInt32();
    }

    /// <summary>punpckl/h on x86, zip1/zip2 on Arm64: low halves of a and b interleaved, then high halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave<T>(Vector128<T> a, Vector128<T> b, out Vector128<T> low, out Vector128<T> high)
        where T : unmanaged
    {
        if (typeof(T) == typeof(uint))
        {
            if (Sse2.IsSupported)
            {
                low = Sse2.UnpackLow(a.AsUInt32(), b.AsUInt32()).As<uint, T>();
                high = Sse2.UnpackHigh(a.AsUInt32(), b.AsUInt32()).As<uint, T>();
            }
            else
            {
                low = AdvSimd.Arm64.ZipLow(a.AsUInt32(), b.AsUInt32()).As<uint, T>();
                high = AdvSimd.Arm64.ZipHigh(a.AsUInt32(), b.AsUInt32()).As<uint, T>();
            }
        }
        else if (Sse2.IsSupported)
        {
            low = Sse2.UnpackLow(a.AsUInt64(), b.AsUInt64()).As<ulong, T>();
            high = Sse2.UnpackHigh(a.AsUInt64(), b.AsUInt64()).As<ulong, T>();
        }
        else
        {
            low = AdvSimd.Arm64.ZipLow(a.AsUInt64(), b.AsUInt64()).As<ulong, T>();
            high = AdvSimd.Arm64.ZipHigh(a.AsUInt64(), b.AsUInt64()).As<ulong, T>();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void G(ref Vector128<uint> a, ref Vector128<uint> b, ref Vector128<uint> c, ref Vector128<uint> d,
        Vector128<uint> x, Vector128<uint> y)
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
