using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Core.Identity;

/// <summary>
/// The libp2p <c>PublicKey</c>/<c>PrivateKey</c> containers (<c>1: Type</c>, <c>2: Data</c>), written by hand so the bytes
/// are deterministic: both fields present, field 1 first, minimal varints, nothing else. The encoding is the PeerId
/// preimage, so a generic serializer's choices must never decide it.
/// </summary>
public static class PublicKeyEncoding
{
    /// <summary>Largest encoded key accepted when decoding (an 8192-bit RSA key in DER stays under this).</summary>
    public const int MaxEncodedLength = 2048;

    /// <summary>Encodes a key container.</summary>
    public static byte[] Encode(KeyType type, ReadOnlySpan<byte> data)
    {
        var length = 1 + Varint.SizeOf((ulong)type) + 1 + Varint.SizeOf((ulong)data.Length) + data.Length;
        var buffer = new byte[length];
        var i = 0;
        buffer[i++] = 0x08;
        i += Varint.Write(buffer.AsSpan(i), (ulong)type);
        buffer[i++] = 0x12;
        i += Varint.Write(buffer.AsSpan(i), (ulong)data.Length);
        data.CopyTo(buffer.AsSpan(i));
        return buffer;
    }

    /// <summary>Decodes a key container strictly: exactly fields 1 then 2, minimal varints, no trailing bytes.</summary>
    /// <exception cref="FormatException">The bytes are not a canonical key container.</exception>
    public static (KeyType Type, byte[] Data) Decode(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length > MaxEncodedLength) throw new FormatException($"encoded key longer than {MaxEncodedLength} bytes");
        if (encoded.Length < 4 || encoded[0] != 0x08) throw new FormatException("key container must start with field 1 (Type)");
        var type = Varint.Read(encoded[1..], out var n);
        var i = 1 + n;
        if (type > 3) throw new FormatException($"unknown key type {type}");
        if (i >= encoded.Length || encoded[i] != 0x12) throw new FormatException("key container must have field 2 (Data) after Type");
        i++;
        var length = Varint.Read(encoded[i..], out n);
        i += n;
        if (length != (ulong)(encoded.Length - i)) throw new FormatException("key data length does not match the container");
        return ((KeyType)type, encoded[i..].ToArray());
    }
}
