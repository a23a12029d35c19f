using System.Buffers.Binary;
using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Packs;

namespace KontinuumP2P.Archive.Manifests;

/// <summary>
/// Seals manifests: plaintext
/// <c>u8 version=1 ‖ u64le sequence ‖ previous[32] ‖ pack digest[32] ‖ u64le first ‖ u64le last ‖ u32le n ‖ n × (blob_id[32] ‖ u64le cursor)</c>
/// in an XChaCha20-Poly1305 box under the manifest key with the manifest's address as associated data, so a box
/// moved to another address or chain does not open.
/// </summary>
public static class ManifestCodec
{
    private const byte Version = 1;
    private const int FixedLength = 1 + 8 + 32 + 32 + 8 + 8 + 4;
    private const int EntryLength = 32 + 8;

    /// <summary>Largest sealed manifest accepted.</summary>
    public const int MaxSealedBytes = SyntheticAead.Overhead + FixedLength + PackFormat.MaxBlobs * EntryLength;

    /// <summary>Seals a manifest for its address in this chain.</summary>
    public static byte[] Seal(Manifest manifest, ArchiveKeys keys)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(keys);
        if (manifest.Blobs.Count is 0 or > PackFormat.MaxBlobs) throw new ArgumentException($"a manifest lists 1..{PackFormat.MaxBlobs} blobs", nameof(manifest));
        if (manifest.Previous.Length != 32) throw new ArgumentException("previous hash is 32 bytes", nameof(manifest));
        var plain = new byte[FixedLength + manifest.Blobs.Count * EntryLength];
        plain[0] = Version;
        BinaryPrimitives.WriteUInt64LittleEndian(plain.AsSpan(1), manifest.Sequence);
        manifest.Previous.Span.CopyTo(plain.AsSpan(9));
        manifest.PackId.Digest.CopyTo(plain.AsSpan(41));
        BinaryPrimitives.WriteUInt64LittleEndian(plain.AsSpan(73), manifest.FirstCursor);
        BinaryPrimitives.WriteUInt64LittleEndian(plain.AsSpan(81), manifest.LastCursor);
        BinaryPrimitives.WriteUInt32LittleEndian(plain.AsSpan(89), (uint)manifest.Blobs.Count);
        var at = FixedLength;
        foreach (var b in manifest.Blobs)
        {
            if (b.BlobId.Length != 32) throw new ArgumentException("a blob id is 32 bytes", nameof(manifest));
            b.BlobId.Span.CopyTo(plain.AsSpan(at));
            BinaryPrimitives.WriteUInt64LittleEndian(plain.AsSpan(at + 32), b.Cursor);
            at += EntryLength;
        }
        return SyntheticAead.Seal(keys.ManifestKey, keys.ManifestAddress(manifest.Sequence).Digest, plain);
    }

    /// <summary>Opens the manifest stored at <paramref name="sequence"/>'s address.</summary>
    /// <exception cref="PackFormatException">Not a manifest of this chain at this position, or malformed.</exception>
    public static Manifest Open(ReadOnlySpan<byte> sealedBox, ulong sequence, ArchiveKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (sealedBox.Length > MaxSealedBytes) throw new PackFormatException($"manifest of {sealedBox.Length} bytes exceeds {MaxSealedBytes}");
        if (!SyntheticAead.TryOpen(keys.ManifestKey, keys.ManifestAddress(sequence).Digest, sealedBox, out var plain))
            throw new PackFormatException($"manifest {sequence} failed authentication: corrupted, or not of this chain");
        if (plain.Length < FixedLength || plain[0] != Version) throw new PackFormatException($"manifest {sequence} has an unknown layout");
        var n = BinaryPrimitives.ReadUInt32LittleEndian(plain.AsSpan(89));
        if (n == 0 || n > PackFormat.MaxBlobs || FixedLength + (long)n * EntryLength != plain.Length)
            throw new PackFormatException($"manifest {sequence} says {n} blobs but holds {(plain.Length - FixedLength) / EntryLength}");
        if (BinaryPrimitives.ReadUInt64LittleEndian(plain.AsSpan(1)) != sequence) throw new PackFormatException($"manifest {sequence} names another sequence");
        var blobs = new ManifestBlob[n];
        for (var i = 0; i < n; i++)
        {
            var at = FixedLength + i * EntryLength;
            blobs[i] = new ManifestBlob(plain.AsSpan(at, 32).ToArray(), BinaryPrimitives.ReadUInt64LittleEndian(plain.AsSpan(at + 32)));
        }
        return new Manifest(sequence, plain.AsSpan(9, 32).ToArray(), ArchiveObjectId.Pack(plain.AsSpan(41, 32)),
            BinaryPrimitives.ReadUInt64LittleEndian(plain.AsSpan(73)), BinaryPrimitives.ReadUInt64LittleEndian(plain.AsSpan(81)), blobs);
    }
}
