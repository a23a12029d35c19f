using System.Buffers.Binary;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Mailbox.Content;

namespace KontinuumP2P.Archive.Contents;

/// <summary>
/// A content as the archive keeps it, version 1:
/// <code>
/// object := u8 version=1 ‖ u32le len(manifest) ‖ manifest ‖ chunk_0 ‖ … ‖ chunk_(n-1)
/// </code>
/// The manifest is the content's own (<see cref="ContentManifest"/>), chunks are its ciphertexts exactly as the
/// replica's content store holds them. The object is named by the content id, so anyone can check it (BLAKE3 of the
/// manifest is the id, each chunk hashes to its manifest entry) and only a holder of the reference (its key) can read it.
/// </summary>
internal static class ContentObject
{
    /// <summary>Format version.</summary>
    public const byte Version = 1;

    /// <summary>Largest content (plaintext) the archive takes; larger ones are skipped by the pusher and logged.</summary>
    public const long MaxContentBytes = 256L << 20;

    /// <summary>Largest object: the largest content, one tag per chunk, the largest manifest and the prefix.</summary>
    public const long MaxBytes = MaxContentBytes + (ContentLimits.MaxChunkCount * (long)(ContentCipher.TagLength + ContentManifest.HashLength))
        + ContentManifest.HeaderLength + PrefixLength;

    private const int PrefixLength = 1 + 4;

    internal static readonly ContentLimits Limits = new() { MaxContentBytes = MaxContentBytes };

    /// <summary>The object's length for this manifest.</summary>
    public static long LengthOf(ContentManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return PrefixLength + manifest.Bytes.Length + manifest.CiphertextSize;
    }

    /// <summary>Writes the prefix and manifest at the start of <paramref name="destination"/>; returns where chunk 0 goes.</summary>
    public static int WriteHead(ContentManifest manifest, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        destination[0] = Version;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[1..], (uint)manifest.Bytes.Length);
        manifest.Bytes.CopyTo(destination[PrefixLength..]);
        return PrefixLength + manifest.Bytes.Length;
    }

    /// <summary>
    /// Parses and checks an object against the id it is stored under: the manifest hashes to the content id, the
    /// length matches, and (unless <paramref name="checkChunks"/> is false) every chunk hashes to its entry. Returns
    /// the manifest and where chunk 0 starts.
    /// </summary>
    /// <exception cref="PackFormatException">Malformed, another content, or a chunk that does not verify.</exception>
    public static (ContentManifest Manifest, int ChunksAt) Open(ReadOnlySpan<byte> data, ArchiveObjectId id, bool checkChunks = true)
    {
        if (id.Kind != ArchiveObjectKind.Content) throw new PackFormatException($"{id} is not a content object");
        if (data.Length > MaxBytes) throw new PackFormatException($"content object of {data.Length} bytes exceeds {MaxBytes}");
        if (data.Length < PrefixLength + ContentManifest.HeaderLength) throw new PackFormatException($"content object of {data.Length} bytes is truncated");
        if (data[0] != Version) throw new PackFormatException($"content object version {data[0]} is not supported (expected {Version})");
        var manifestLength = BinaryPrimitives.ReadUInt32LittleEndian(data[1..]);
        if (manifestLength > data.Length - PrefixLength) throw new PackFormatException($"manifest length {manifestLength} runs past the object's end");
        ContentManifest manifest;
        try
        {
            manifest = ContentManifest.Parse(data.Slice(PrefixLength, (int)manifestLength), ContentId.FromDigest(id.Digest), Limits);
        }
        catch (ContentException e)
        {
            throw new PackFormatException($"{id}: {e.Message}");
        }
        var chunksAt = PrefixLength + (int)manifestLength;
        if (data.Length - chunksAt != manifest.CiphertextSize)
            throw new PackFormatException($"{id}: {data.Length - chunksAt} chunk bytes, the manifest says {manifest.CiphertextSize} (truncated?)");
        if (checkChunks)
        {
            var at = chunksAt;
            for (var i = 0; i < manifest.ChunkCount; i++)
            {
                var length = manifest.CiphertextLengthOf(i);
                if (!manifest.Verify(i, data.Slice(at, length))) throw new PackFormatException($"{id}: chunk {i} does not hash to its manifest entry");
                at += length;
            }
        }
        return (manifest, chunksAt);
    }

    /// <summary>True when <see cref="Open"/> accepts the object.</summary>
    public static bool IsValid(ReadOnlySpan<byte> data, ArchiveObjectId id)
    {
        try
        {
            Open(data, id);
            return true;
        }
        catch (PackFormatException)
        {
            return false;
        }
    }
}
