using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static KontinuumP2P.Certs.Hashing.Blake3Constants;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>Single-block compression with the 4×4 state held as four row vectors: each G step works on all four
/// columns (then all four diagonals) at once. Used for parents, partial chunks, tails and extended output.</summary>
internal static class Blake3Vector128
{
    /// <summary>Whether this machine can run the vector compression (Vector128 on x86 or Arm, little-endian).</summary>
    public static bool IsSupported => Vector128.IsHardwareAccelerated && BitConverter.IsLittleEndian;

    /// <summary>Per round r, the message word indices of that round's schedule arranged as
    /// (column x, column y, diagonal x, diagonal y) groups of four.</summary>
    private static ReadOnlySpan<uint> RoundWordOrder =>
    [
        0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15,
        2, 3, 7, 4, 6, 10, 0, 13, 1, 12, 9, 15, 11, 5, 14, 8,
        3, 10, 13, 7, 4, 12, 2, 14, 6, 9, 11, 8, 5, 0, 15, 1,
        10, 12, 14, 13, 7, 9, 3, 15, 4, 11, 5, 1, 0, 2, 8, 6,
        12, 9, 15, 14, 13, 11, 10, 8, 7, 5, 0, 6, 2, 3, 1, 4,
        9, 11, 8, 15, 14, 5, 12, 1, 13, 0, 2, 4, 3, 10, 6, 7,
        11, 5, 1, 8, 15, 0, 9, 6, 14, 2, 3, 7, 10, 12, 4, 13,
    ];

    /// <summary>Same contract as <see cref="Blake3Scalar.Compress"/>. With AVX-512 one <c>vpermd</c> per round
    /// builds that round's message vectors; <paramref name="allowPermute512"/> = false forces the element-wise
    /// gather so tests cover it too.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    public static void Compress(ReadOnlySpan<uint> cv, ReadOnlySpan<byte> block, ulong counter, uint blockLength,
        uint flags, Span<uint> output, bool allowPermute512 = true)
    {
        if (block.Length < BlockLength || cv.Length < 8 || output.Length < 8) throw new ArgumentException("short buffer");
        ref var cvRef = ref MemoryMarshal.GetReference(cv);
        var cvLow = Vector128.LoadUnsafe(ref cvRef);
        var cvHigh = Vector128.LoadUnsafe(ref cvRef, 4);
        var row0 = cvLow;
        var row1 = cvHigh;
        var row2 = Vector128.Create(IV0, IV1, IV2, IV3);
        var row3 = Vector128.Create((uint)counter, (uint)(counter >> 32), blockLength, flags);
        ref var words = ref Unsafe.As<byte, uint>(ref MemoryMarshal.GetReference(block));
        ref var order = ref MemoryMarshal.GetReference(RoundWordOrder);

        if (allowPermute512 && Avx512F.IsSupported)
        {
            var message = Vector512.LoadUnsafe(ref words);
            for (nuint round = 0; round < 7; round++)
            {
                var arranged = Avx512F.PermuteVar16x32(message, Vector512.LoadUnsafe(ref order, round * 16));
                var low = arranged.GetLower();
                var high = arranged.GetUpper();
                Round(ref row0, ref row1, ref row2, ref row3, low.GetLower(), low.GetUpper(), high.GetLower(), high.GetUpper());
            }
        }
        else
        {
            for (var round = 0; round < 7; round++)
            {
                var o = RoundWordOrder.Slice(round * 16, 16);
                var block16 = MemoryMarshal.CreateReadOnlySpan(ref words, 16);
                Round(ref row0, ref row1, ref row2, ref row3,
                    Vector128.Create(block16[(int)o[0]], block16[(int)o[1]], block16[(int)o[2]], block16[(int)o[3]]),
                    Vector128.Create(block16[(int)o[4]], block16[(int)o[5]], block16[(int)o[6]], block16[(int)o[7]]),
                    Vector128.Create(block16[(int)o[8]], block16[(int)o[9]], block16[(int)o[10]], block16[(int)o[11]]),
                    Vector128.Create(block16[(int)o[12]], block16[(int)o[13]], block16[(int)o[14]], block16[(int)o[15]]));
            }
        }

        ref var outRef = ref MemoryMarshal.GetReference(output);
        (row0 ^ row2).StoreUnsafe(ref outRef);
        (row1 ^ row3).StoreUnsafe(ref outRef, 4);
        if (output.Length < 16) return;
        (row2 ^ cvLow).StoreUnsafe(ref outRef, 8);
        (row3 ^ cvHigh).StoreUnsafe(ref outRef, 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref Vector128<uint> row0, ref Vector128<uint> row1, ref Vector128<uint> row2,
        ref Vector128<uint> row3, Vector128<uint> columnX, Vector128<uint> columnY, Vector128<uint> diagonalX,
        Vector128<uint> diagonalY)
    {
        G(ref row0, ref row1, ref row2, ref row3, columnX, columnY);
        // Diagonalise: rotate rows 1..3 left by 1..3 lanes so the diagonals line up as columns.
        row1 = Vector128.Shuffle(row1, Vector128.Create(1u, 2, 3, 0));
        row2 = Vector128.Shuffle(row2, Vector128.Create(2u, 3, 0, 1));
        row3 = Vector128.Shuffle(row3, Vector128.Create(3u, 0, 1, 2));
        G(ref row0, ref row1, ref row2, ref row3, diagonalX, diagonalY);
        row1 = Vector128.Shuffle(row1, Vector128.Create(3u, 0, 1, 2));
        row2 = Vector128.Shuffle(row2, Vector128.Create(2u, 3, 0, 1));
        row3 = Vector128.Shuffle(row3, Vector128.Create(1u, 2, 3, 0));
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
