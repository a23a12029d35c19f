using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// A content's id: BLAKE3 of its <see cref="ContentManifest"/> (the chunk-size header and the BLAKE3 hash of every
/// chunk ciphertext). Shown as a CIDv1 like a <see cref="BlobId"/> (raw codec, blake3 multihash).
/// </summary>
public readonly struct ContentId : IEquatable<ContentId>
{
    private readonly BlobId _id;

    private ContentId(BlobId id) => _id = id;

    /// <summary>The 32-byte digest.</summary>
    public ReadOnlySpan<byte> Digest => _id.Digest;

    /// <summary>The id of a manifest's canonical bytes.</summary>
    public static ContentId Of(ReadOnlySpan<byte> manifest) => new(BlobId.Of(manifest));

    /// <summary>Wraps a 32-byte digest.</summary>
    /// <exception cref="ArgumentException">Not 32 bytes.</exception>
    public static ContentId FromDigest(ReadOnlySpan<byte> digest) => new(BlobId.FromDigest(digest));

    /// <summary>Parses the CID text form or 64 hex characters.</summary>
    /// <exception cref="FormatException">Neither form.</exception>
    public static ContentId Parse(string text) => new(BlobId.Parse(text));

    /// <summary>The CIDv1 text form.</summary>
    public override string ToString() => _id.ToString();

    /// <summary>The digest as lower-case hex (the store's folder name).</summary>
    public string ToHex() => _id.ToHex();

    /// <inheritdoc />
    public bool Equals(ContentId other) => _id.Equals(other._id);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is ContentId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _id.GetHashCode();

    /// <summary>Equality.</summary>
    public static bool operator ==(ContentId left, ContentId right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(ContentId left, ContentId right) => !left.Equals(right);
}
