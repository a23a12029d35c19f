using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using static KontinuumP2P.Certs.Hashing.Blake3Constants;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>The portable compression function: plain 32-bit arithmetic, any endianness.</summary>
internal static class Blake3Scalar
{
    /// <summary>Compresses one block and writes the 8-word chaining value (<paramref name="output"/>.Length ≥ 8)
    /// or, when <paramref name="output"/> has 16 words, the full extended output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    public static void Compress(ReadOnlySpan<uint> cv, ReadOnlySpan<byte> block, ulong counter, uint blockLength,
        uint flags, Span<uint> output)
    {
        block = block[..BlockLength];
        uint m0 = BinaryPrimitives.ReadUInt32LittleEndian(block), m1 = BinaryPrimitives.ReadUInt32LittleEndian(block[4..]);
        uint m2 = BinaryPrimitives.ReadUInt32LittleEndian(block[8..]), m3 = BinaryPrimitives.ReadUInt32LittleEndian(block[12..]);
        uint m4 = BinaryPrimitives.ReadUInt32LittleEndian(block[16..]), m5 = BinaryPrimitives.ReadUInt32LittleEndian(block[20..]);
        uint m6 = BinaryPrimitives.ReadUInt32LittleEndian(block[24..]), m7 = BinaryPrimitives.ReadUInt32LittleEndian(block[28..]);
        uint m8 = BinaryPrimitives.ReadUInt32LittleEndian(block[32..]), m9 = BinaryPrimitives.ReadUInt32LittleEndian(block[36..]);
        uint m10 = BinaryPrimitives.ReadUInt32LittleEndian(block[40..]), m11 = BinaryPrimitives.ReadUInt32LittleEndian(block[44..]);
        uint m12 = BinaryPrimitives.ReadUInt32LittleEndian(block[48..]), m13 = BinaryPrimitives.ReadUInt32LittleEndian(block[52..]);
        uint m14 = BinaryPrimitives.ReadUInt32LittleEndian(block[56..]), m15 = BinaryPrimitives.ReadUInt32LittleEndian(block[60..]);

        cv = cv[..8];
        uint s0 = cv[0], s1 = cv[1], s2 = cv[2], s3 = cv[3], s4 = cv[4], s5 = cv[5], s6 = cv[6], s7 = cv[7];
        uint s8 = IV0, s9 = IV1, s10 = IV2, s11 = IV3;
        uint s12 = (uint)counter, s13 = (uint)(counter >> 32), s14 = blockLength, s15 = flags;

        for (var round = 0; round < 7; round++)
        {
            G(ref s0, ref s4, ref s8, ref s12, m0, m1);
            G(ref s1, ref s5, ref s9, ref s13, m2, m3);
            G(ref s2, ref s6, ref s10, ref s14, m4, m5);
            G(ref s3, ref s7, ref s11, ref s15, m6, m7);
            G(ref s0, ref s5, ref s10, ref s15, m8, m9);
            G(ref s1, ref s6, ref s11, ref s12, m10, m11);
            G(ref s2, ref s7, ref s8, ref s13, m12, m13);
            G(ref s3, ref s4, ref s9, ref s14, m14, m15);
            // The fixed message permutation between rounds.
            (m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15) =
                (m2, m6, m3, m10, m7, m0, m4, m13, m1, m11, m12, m5, m9, m14, m15, m8);
        }

        output[0] = s0 ^ s8; output[1] = s1 ^ s9; output[2] = s2 ^ s10; output[3] = s3 ^ s11;
        output[4] = s4 ^ s12; output[5] = s5 ^ s13; output[6] = s6 ^ s14; output[7] = s7 ^ s15;
        if (output.Length < 16) return;
        output[8] = s8 ^ cv[0]; output[9] = s9 ^ cv[1]; output[10] = s10 ^ cv[2]; output[11] = s11 ^ cv[3];
        output[12] = s12 ^ cv[4]; output[13] = s13 ^ cv[5]; output[14] = s14 ^ cv[6]; output[15] = s15 ^ cv[7];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void G(ref uint a, ref uint b, ref uint c, ref uint d, uint x, uint y)
    {
        a = a + b + x;
        d = BitOperations.RotateRight(d ^ a, 16);
        c += d;
        b = BitOperations.RotateRight(b ^ c, 12);
        a = a + b + y;
        d = BitOperations.RotateRight(d ^ a, 8);
        c += d;
        b = BitOperations.RotateRight(b ^ c, 7);
    }
}
