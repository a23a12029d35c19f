namespace KontinuumP2P.Archive.Packs;

/// <summary>One blob in a pack: its id (BLAKE3 of the sealed blob), mailbox cursor, and place in the pack.</summary>
/// <param name="BlobId">BLAKE3 of the sealed blob, 32 bytes.</param>
/// <param name="Cursor">The blob's cursor in its mailbox.</param>
/// <param name="Offset">Where the blob starts in the pack.</param>
/// <param name="Length">The blob's length.</param>
public sealed record PackEntry(ReadOnlyMemory<byte> BlobId, ulong Cursor, long Offset, int Length);
