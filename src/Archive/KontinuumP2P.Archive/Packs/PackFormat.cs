namespace KontinuumP2P.Archive.Packs;

/// <summary>
/// Pack layout, version 1:
/// <code>
/// pack   := blob_0 ‖ … ‖ blob_(n-1) ‖ sealed ‖ u32le len(sealed)
/// sealed := XChaCha20-Poly1305 box (synthetic nonce) under the pack key, associated data "kontinuum/archive/pack/v1"
/// header := u8 version=1 ‖ u32le n ‖ n × (blob_id[32] ‖ u64le cursor ‖ u64le offset ‖ u32le length)
/// </code>
/// Blobs are contiguous from offset 0 in header order and end where the sealed header starts; cursors strictly
/// increase. The pack id is the BLAKE3 of all its bytes.
/// </summary>
public static class PackFormat
{
    /// <summary>Format version written in the header.</summary>
    public const byte Version = 1;

    /// <summary>Most blobs one pack may hold.</summary>
    public const int MaxBlobs = 1 << 18;

    /// <summary>Largest pack accepted anywhere (read, received, fetched from a sink).</summary>
    public const long MaxPackBytes = 256L << 20;

    /// <summary>Largest blob a pack may hold (mailbox limit 1 MiB plus sealing overhead, with room to spare).</summary>
    public const int MaxBlobBytes = (1 << 20) + 4096;

    internal const int EntryLength = 32 + 8 + 8 + 4;
    internal const int HeaderFixedLength = 1 + 4;
    internal const int TrailerLength = 4;
    internal static readonly byte[] AssociatedData = "kontinuum/archive/pack/v1"u8.ToArray();

    internal static int SealedHeaderLength(int blobs) => Crypto.SyntheticAead.Overhead + HeaderFixedLength + blobs * EntryLength;
}
