using System.Buffers.Binary;

namespace KontinuumP2P.Mailbox.Crypto;

/// <summary>
/// Pads a plaintext to a size class so a mailbox learns only the class: <c>length u32 BE | plaintext | zeros</c>, where
/// the body after the length is exactly one class (1, 4, 16, 64, 256 KiB or 1 MiB). Unpadding checks the length fits
/// and every padding byte is zero, so one padded buffer has exactly one reading.
/// </summary>
public static class BlobPadding
{
    /// <summary>Bytes of the length header.</summary>
    public const int HeaderLength = 4;

    /// <summary>Largest plaintext: 1 MiB.</summary>
    public const int MaxPlaintextLength = 1024 * 1024;

    /// <summary>The size classes of the padded body, smallest first.</summary>
    public static IReadOnlyList<int> SizeClasses { get; } = [1024, 4 * 1024, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024];

    /// <summary>The smallest class holding <paramref name="plaintextLength"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative or over <see cref="MaxPlaintextLength"/>.</exception>
    public static int ClassFor(int plaintextLength)
    {
        if (plaintextLength is < 0 or > MaxPlaintextLength)
            throw new ArgumentOutOfRangeException(nameof(plaintextLength), plaintextLength, $"a blob holds at most {MaxPlaintextLength} bytes of plaintext");
        foreach (var size in SizeClasses)
        {
            if (plaintextLength <= size) return size;
        }
        throw new InvalidOperationException("unreachable: the largest class is the maximum");
    }

    /// <summary>Whether <paramref name="paddedLength"/> is the length of some padded buffer.</summary>
    public static bool IsPaddedLength(int paddedLength) => SizeClasses.Contains(paddedLength - HeaderLength);

    /// <summary>Pads.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Over <see cref="MaxPlaintextLength"/>.</exception>
    public static byte[] Pad(ReadOnlySpan<byte> plaintext)
    {
        var padded = new byte[HeaderLength + ClassFor(plaintext.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(padded, (uint)plaintext.Length);
        plaintext.CopyTo(padded.AsSpan(HeaderLength));
        return padded;
    }

    /// <summary>Removes the padding, checking it.</summary>
    /// <exception cref="FormatException">Not a class size, a length past the body, or non-zero padding.</exception>
    public static byte[] Unpad(ReadOnlySpan<byte> padded)
    {
        if (!IsPaddedLength(padded.Length)) throw new FormatException($"padded blob of {padded.Length} bytes is not a size class");
        var length = BinaryPrimitives.ReadUInt32BigEndian(padded);
        var body = padded[HeaderLength..];
        if (length > (uint)body.Length) throw new FormatException($"padded blob states {length} bytes in a {body.Length}-byte body");
        if (body[(int)length..].ContainsAnyExcept((byte)0)) throw new FormatException("padded blob has non-zero padding");
        return body[..(int)length].ToArray();
    }
}
