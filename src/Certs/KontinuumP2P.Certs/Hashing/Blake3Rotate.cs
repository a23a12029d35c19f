using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>Lane-wise 32-bit right rotations by the four BLAKE3 distances, using the cheapest instruction the
/// CPU has: AVX-512 <c>vprord</c>, a byte shuffle for 16 and 8, otherwise two shifts and an OR.</summary>
internal static class Blake3Rotate
{
    private static Vector128<byte> Rot16Bytes => Vector128.Create((byte)2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    private static Vector128<byte> Rot8Bytes => Vector128.Create((byte)1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> By16(Vector128<uint> v)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.RotateRight(v, 16);
        if (Ssse3.IsSupported) return Ssse3.Shuffle(v.AsByte(), Rot16Bytes).AsUInt32();
        return (v >>> 16) | (v << 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> By12(Vector128<uint> v) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.RotateRight(v, 12) : (v >>> 12) | (v << 20);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> By8(Vector128<uint> v)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.RotateRight(v, 8);
        if (Ssse3.IsSupported) return Ssse3.Shuffle(v.AsByte(), Rot8Bytes).AsUInt32();
        return (v >>> 8) | (v << 24);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> By7(Vector128<uint> v) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.RotateRight(v, 7) : (v >>> 7) | (v << 25);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> By16(Vector256<uint> v)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.RotateRight(v, 16);
        return Avx2.Shuffle(v.AsByte(), Vector256.Create(Rot16Bytes, Rot16Bytes)).AsUInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> By12(Vector256<uint> v) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.RotateRight(v, 12) : (v >>> 12) | (v << 20);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> By8(Vector256<uint> v)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.RotateRight(v, 8);
        return Avx2.Shuffle(v.AsByte(), Vector256.Create(Rot8Bytes, Rot8Bytes)).AsUInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> By7(Vector256<uint> v) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.RotateRight(v, 7) : (v >>> 7) | (v << 25);
}
