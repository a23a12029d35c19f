namespace KontinuumP2P.Archive.Manifests;

/// <summary>
/// One link of a mailbox's manifest chain: which pack holds which blobs, the cursor range it covers, and the hash of
/// the previous link's stored bytes (all zero for the first).
/// </summary>
/// <param name="Sequence">Position in the chain, from 0.</param>
/// <param name="Previous">BLAKE3 of the previous manifest as stored (sealed), or 32 zero bytes for sequence 0.</param>
/// <param name="PackId">The pack these blobs are in.</param>
/// <param name="FirstCursor">The lowest cursor the pack holds.</param>
/// <param name="LastCursor">The highest cursor the pack holds; the mailbox is archived up to here after this link.</param>
/// <param name="Blobs">Blob ids with their cursors, in cursor order.</param>
public sealed record Manifest(
    ulong Sequence,
    ReadOnlyMemory<byte> Previous,
    ArchiveObjectId PackId,
    ulong FirstCursor,
    ulong LastCursor,
    IReadOnlyList<ManifestBlob> Blobs);

/// <summary>A blob id and its mailbox cursor.</summary>
/// <param name="BlobId">BLAKE3 of the sealed blob, 32 bytes.</param>
/// <param name="Cursor">The blob's cursor.</param>
public sealed record ManifestBlob(ReadOnlyMemory<byte> BlobId, ulong Cursor);
