using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Archive;

/// <summary>What an archive object is: an immutable pack, or one link of a mailbox's manifest chain.</summary>
public enum ArchiveObjectKind
{
    /// <summary>A pack: its id is the BLAKE3 of its bytes.</summary>
    Pack,

    /// <summary>A manifest: its id is BLAKE3(locator ‖ sequence), an address only the group can compute.</summary>
    Manifest,

    /// <summary>
    /// A content (large attachment): its manifest and every chunk ciphertext; its id is the content id (BLAKE3 of the
    /// content manifest), so it is found from a restored <c>ContentReference</c> and checked without any key.
    /// </summary>
    Content,
}

/// <summary>
/// The name of an object in a sink. Packs are named by their CIDv1 (raw 0x55, blake3 multihash 0x1e, base32 text
/// <c>b…</c>), manifests by <c>m</c> followed by their 64-hex address, contents by <c>c</c> and the content id's 64 hex.
/// </summary>
public readonly record struct ArchiveObjectId
{
    private const byte CidVersion = 0x01, RawCodec = 0x55, Blake3Code = 0x1e, DigestLength = 0x20;
    private readonly byte[]? _digest;

    private ArchiveObjectId(ArchiveObjectKind kind, byte[] digest)
    {
        Kind = kind;
        _digest = digest;
    }

    /// <summary>The kind of object.</summary>
    public ArchiveObjectKind Kind { get; }

    /// <summary>The 32-byte digest.</summary>
    public ReadOnlySpan<byte> Digest => _digest;

    /// <summary>The pack id of this 32-byte BLAKE3 digest.</summary>
    public static ArchiveObjectId Pack(ReadOnlySpan<byte> digest) => new(ArchiveObjectKind.Pack, Check(digest));

    /// <summary>The manifest object at this 32-byte address.</summary>
    public static ArchiveObjectId Manifest(ReadOnlySpan<byte> digest) => new(ArchiveObjectKind.Manifest, Check(digest));

    /// <summary>The archived content whose content id has this 32-byte digest.</summary>
    public static ArchiveObjectId Content(ReadOnlySpan<byte> digest) => new(ArchiveObjectKind.Content, Check(digest));

    /// <summary>The binary CIDv1 of a pack (raw codec, blake3 multihash), as DHT provider records use it.</summary>
    public byte[] ToCidBytes()
    {
        if (Kind != ArchiveObjectKind.Pack) throw new InvalidOperationException("only packs have a CID");
        return [CidVersion, RawCodec, Blake3Code, DigestLength, .. _digest!];
    }

    /// <summary>The object's name in a sink.</summary>
    public override string ToString() =>
        _digest is null ? "(none)" : Kind switch
        {
            ArchiveObjectKind.Pack => "b" + Base32.Encode(ToCidBytes()),
            ArchiveObjectKind.Content => "c" + Convert.ToHexStringLower(_digest),
            _ => "m" + Convert.ToHexStringLower(_digest),
        };

    /// <summary>Parses a name written by <see cref="ToString"/>; false for anything else.</summary>
    public static bool TryParse(string? name, out ArchiveObjectId id)
    {
        id = default;
        if (string.IsNullOrEmpty(name) || name.Length > 80) return false;
        try
        {
            if (name[0] is 'm' or 'c' && name.Length == 65)
            {
                var digest = Convert.FromHexString(name.AsSpan(1));
                if (!name.AsSpan(1).SequenceEqual(Convert.ToHexStringLower(digest))) return false;
                id = name[0] == 'm' ? Manifest(digest) : Content(digest);
                return true;
            }
            if (name[0] == 'b')
            {
                var cid = Base32.Decode(name.AsSpan(1));
                if (cid.Length != 36 || cid[0] != CidVersion || cid[1] != RawCodec || cid[2] != Blake3Code || cid[3] != DigestLength) return false;
                id = Pack(cid.AsSpan(4));
                return id.ToString() == name;
            }
        }
        catch (FormatException)
        {
        }
        return false;
    }

    /// <summary>Parses a name written by <see cref="ToString"/>.</summary>
    /// <exception cref="FormatException">Not a pack CID, manifest address or content name.</exception>
    public static ArchiveObjectId Parse(string name) =>
        TryParse(name, out var id) ? id : throw new FormatException($"'{name}' is not a pack CID (b…, raw blake3), manifest address (m + 64 hex) or content (c + 64 hex)");

    /// <summary>Equal when kind and digest are equal.</summary>
    public bool Equals(ArchiveObjectId other) => Kind == other.Kind && Digest.SequenceEqual(other.Digest);

    /// <summary>A hash of the digest.</summary>
    public override int GetHashCode() => _digest is null ? 0 : HashCode.Combine(Kind, BitConverter.ToInt32(_digest, 0));

    private static byte[] Check(ReadOnlySpan<byte> digest) =>
        digest.Length == 32 ? digest.ToArray() : throw new ArgumentException($"a digest is 32 bytes, got {digest.Length}", nameof(digest));
}
