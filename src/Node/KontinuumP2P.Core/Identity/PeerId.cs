using System.Numerics;
using System.Security.Cryptography;
using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Core.Identity;

/// <summary>
/// A libp2p peer id: the multihash of the peer's encoded public key (identity multihash when the encoding is at most
/// 42 bytes, sha2-256 otherwise). Shown as base58btc (<c>12D3KooW…</c> for Ed25519); parses CIDv1 libp2p-key text too.
/// </summary>
public sealed class PeerId : IEquatable<PeerId>, IComparable<PeerId>
{
    /// <summary>Longest multihash accepted (a sha2-256 multihash is 34 bytes, an identity Ed25519 one 38).</summary>
    public const int MaxLength = 128;
    private const int IdentityThreshold = 42;
    private const ulong LibP2PKeyCodec = 0x72;
    private readonly byte[] _bytes;
    private readonly int _hash;
    private string? _text;
    private byte[]? _sha256;

    private PeerId(byte[] bytes)
    {
        _bytes = bytes;
        var hash = new HashCode();
        hash.AddBytes(bytes);
        _hash = hash.ToHashCode();
    }

    /// <summary>The multihash bytes, as carried on the wire.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>
    /// SHA-256 of the multihash bytes (the peer's Kademlia id), computed once per instance: the DHT asks for it on every
    /// table operation and lookup step. A benign race may compute it twice.
    /// </summary>
    internal ReadOnlySpan<byte> Sha256Digest => _sha256 ??= SHA256.HashData(_bytes);

    /// <summary>A copy of the multihash bytes.</summary>
    public byte[] ToByteArray() => (byte[])_bytes.Clone();

    /// <summary>The peer id of an encoded public key (libp2p <c>PublicKey</c> protobuf).</summary>
    public static PeerId FromEncodedPublicKey(ReadOnlySpan<byte> encodedPublicKey)
    {
        if (encodedPublicKey.Length <= IdentityThreshold)
        {
            var bytes = new byte[2 + encodedPublicKey.Length];
            bytes[0] = 0x00;
            bytes[1] = (byte)encodedPublicKey.Length;
            encodedPublicKey.CopyTo(bytes.AsSpan(2));
            return new PeerId(bytes);
        }
        var hashed = new byte[34];
        hashed[0] = 0x12;
        hashed[1] = 0x20;
        SHA256.HashData(encodedPublicKey, hashed.AsSpan(2));
        return new PeerId(hashed);
    }

    /// <summary>Parses multihash bytes (identity or sha2-256).</summary>
    /// <exception cref="FormatException">Not a supported multihash.</exception>
    public static PeerId FromBytes(ReadOnlySpan<byte> multihash)
    {
        if (multihash.Length > MaxLength) throw new FormatException($"peer id longer than {MaxLength} bytes");
        var code = Varint.Read(multihash, out var n);
        var length = Varint.Read(multihash[n..], out var m);
        if ((ulong)(multihash.Length - n - m) != length) throw new FormatException("multihash length does not match its digest");
        switch (code)
        {
            case 0x00:
                if (length > IdentityThreshold) throw new FormatException("identity multihash over 42 bytes");
                PublicKeyEncoding.Decode(multihash[(n + m)..]);
                break;
            case 0x12:
                if (length != 32) throw new FormatException("sha2-256 multihash must have 32 bytes");
                break;
            default:
                throw new FormatException($"multihash code 0x{code:x} is not a peer id hash");
        }
        return new PeerId(multihash.ToArray());
    }

    /// <summary>Parses text: base58btc multihash (<c>1…</c>, <c>Qm…</c>) or a multibase CIDv1 with codec libp2p-key.</summary>
    /// <exception cref="FormatException">The text is not a peer id.</exception>
    public static PeerId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) throw new FormatException("empty peer id");
        if (text[0] == '1' || text.StartsWith("Qm", StringComparison.Ordinal)) return FromBytes(Base58.Decode(text));
        var cid = text[0] switch
        {
            'b' or 'B' => Base32.Decode(text.AsSpan(1)),
            'z' => Base58.Decode(text[1..]),
            'k' or 'K' => DecodeBase36(text.AsSpan(1)),
            'f' or 'F' => Convert.FromHexString(text.AsSpan(1)),
            _ => throw new FormatException($"'{text}' is neither a base58 peer id nor a multibase CID"),
        };
        var version = Varint.Read(cid, out var n);
        if (version != 1) throw new FormatException("peer id CID must be CIDv1");
        var codec = Varint.Read(cid.AsSpan(n), out var m);
        if (codec != LibP2PKeyCodec) throw new FormatException($"CID codec 0x{codec:x} is not libp2p-key (0x72)");
        return FromBytes(cid.AsSpan(n + m));
    }

    /// <summary>Tries to parse text; false when it is not a peer id.</summary>
    public static bool TryParse(string? text, out PeerId? peerId)
    {
        peerId = null;
        if (text is null) return false;
        try
        {
            peerId = Parse(text);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>The encoded public key carried inside an identity multihash, or null for hashed ids.</summary>
    public byte[]? TryGetEncodedPublicKey() => _bytes[0] == 0x00 ? _bytes[2..] : null;

    /// <summary>Whether <paramref name="encodedPublicKey"/> is the key this id was derived from.</summary>
    public bool Matches(ReadOnlySpan<byte> encodedPublicKey) => FromEncodedPublicKey(encodedPublicKey).Equals(this);

    /// <summary>The CIDv1 text form (multibase base32, prefix <c>b</c>).</summary>
    public string ToCidString()
    {
        var cid = new byte[2 + _bytes.Length];
        cid[0] = 0x01;
        cid[1] = (byte)LibP2PKeyCodec;
        _bytes.CopyTo(cid, 2);
        return "b" + Base32.Encode(cid);
    }

    /// <summary>The base58btc text form.</summary>
    public override string ToString() => _text ??= Base58.Encode(_bytes);

    /// <inheritdoc />
    public bool Equals(PeerId? other) => ReferenceEquals(this, other) || (other is not null && _hash == other._hash && _bytes.AsSpan().SequenceEqual(other._bytes));

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is PeerId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _hash;

    /// <inheritdoc />
    public int CompareTo(PeerId? other) => other is null ? 1 : _bytes.AsSpan().SequenceCompareTo(other._bytes);

    /// <summary>Equality by multihash bytes.</summary>
    public static bool operator ==(PeerId? left, PeerId? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Inequality by multihash bytes.</summary>
    public static bool operator !=(PeerId? left, PeerId? right) => !(left == right);

    private static byte[] DecodeBase36(ReadOnlySpan<char> text)
    {
        const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        if (text.Length > 256) throw new FormatException("base36 text too long");
        var zeros = 0;
        while (zeros < text.Length && text[zeros] == '0') zeros++;
        var value = BigInteger.Zero;
        foreach (var c in text[zeros..])
        {
            var d = digits.IndexOf(char.ToLowerInvariant(c), StringComparison.Ordinal);
            if (d < 0) throw new FormatException($"'{c}' is not a base36 character");
            value = value * 36 + d;
        }
        var body = value.IsZero ? [] : value.ToByteArray(isUnsigned: true, isBigEndian: true);
        var result = new byte[zeros + body.Length];
        body.CopyTo(result, zeros);
        return result;
    }
}
