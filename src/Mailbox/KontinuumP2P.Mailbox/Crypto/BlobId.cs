using KontinuumP2P.Certs.Hashing;
using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Mailbox.Crypto;

/// <summary>
/// A blob's id: BLAKE3 of its sealed bytes. Shown as a CIDv1 (multibase base32 <c>b</c>, version 1, codec raw 0x55,
/// multihash blake3 0x1e of 32 bytes), the form the archive uses too.
/// </summary>
public readonly struct BlobId : IEquatable<BlobId>
{
    /// <summary>Length of the digest.</summary>
    public const int Length = 32;

    /// <summary>The raw multicodec.</summary>
    public const byte RawCodec = 0x55;

    /// <summary>The blake3 multihash code.</summary>
    public const byte Blake3Code = 0x1e;

    private static readonly byte[] CidPrefix = [0x01, RawCodec, Blake3Code, Length];
    private readonly byte[]? _digest;

    private BlobId(byte[] digest) => _digest = digest;

    /// <summary>The 32-byte digest.</summary>
    public ReadOnlySpan<byte> Digest => _digest ?? throw new InvalidOperationException("default BlobId has no digest");

    /// <summary>The id of <paramref name="sealedBlob"/>.</summary>
    public static BlobId Of(ReadOnlySpan<byte> sealedBlob) => new(Blake3.Hash(sealedBlob));

    /// <summary>Wraps a digest (copied).</summary>
    /// <exception cref="ArgumentException">Not 32 bytes.</exception>
    public static BlobId FromDigest(ReadOnlySpan<byte> digest)
    {
        if (digest.Length != Length) throw new ArgumentException($"a blob id is {Length} bytes, not {digest.Length}", nameof(digest));
        return new BlobId(digest.ToArray());
    }

    /// <summary>Parses the CID text form or 64 hex characters.</summary>
    /// <exception cref="FormatException">Neither form, or a CID of another codec or hash.</exception>
    public static BlobId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 2 * Length && text.All(char.IsAsciiHexDigit)) return new BlobId(Convert.FromHexString(text));
        if (text.Length < 2 || text[0] != 'b') throw new FormatException($"'{text}' is not a blob id (base32 CIDv1 'b…' or 64 hex)");
        var bytes = Base32.Decode(text.AsSpan(1));
        if (bytes.Length != CidPrefix.Length + Length || !bytes.AsSpan(0, CidPrefix.Length).SequenceEqual(CidPrefix))
            throw new FormatException($"'{text}' is not a CIDv1 of raw bytes with a 32-byte blake3 multihash");
        return new BlobId(bytes[CidPrefix.Length..]);
    }

    /// <summary>The CIDv1 text form.</summary>
    public override string ToString() => _digest is null ? "" : "b" + Base32.Encode([.. CidPrefix, .. _digest]);

    /// <summary>The digest as lower-case hex.</summary>
    public string ToHex() => Convert.ToHexStringLower(Digest);

    /// <inheritdoc />
    public bool Equals(BlobId other) => Digest.SequenceEqual(other.Digest);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is BlobId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => BitConverter.ToInt32(Digest);

    /// <summary>Equality.</summary>
    public static bool operator ==(BlobId left, BlobId right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(BlobId left, BlobId right) => !left.Equals(right);
}
