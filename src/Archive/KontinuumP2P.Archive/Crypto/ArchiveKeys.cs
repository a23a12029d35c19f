using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace KontinuumP2P.Archive.Crypto;

/// <summary>
/// The keys one replica mailbox's archive is written and read with, all derived from its 32-byte <c>archive_key</c>
/// (which the group derives from its secret and hands to the replica at Open) by HKDF-SHA256 with distinct labels.
/// The locator itself is never stored anywhere: holders only see manifest addresses BLAKE3(locator ‖ sequence).
/// </summary>
public sealed class ArchiveKeys
{
    /// <summary>Length of an archive key and of every derived key, in bytes.</summary>
    public const int KeyLength = 32;

    private static readonly byte[] Salt = Encoding.ASCII.GetBytes("kontinuum/archive/v1");
    private static readonly byte[] LocatorLabel = Encoding.ASCII.GetBytes("kontinuum/archive/locator");
    private static readonly byte[] ManifestLabel = Encoding.ASCII.GetBytes("kontinuum/archive/manifest-key");
    private static readonly byte[] PackLabel = Encoding.ASCII.GetBytes("kontinuum/archive/pack-header-key");

    private ArchiveKeys(byte[] locator, byte[] manifestKey, byte[] packKey)
    {
        Locator = locator;
        ManifestKey = manifestKey;
        PackKey = packKey;
    }

    /// <summary>The mailbox's archive locator: the root of its manifest chain's addresses.</summary>
    public ReadOnlyMemory<byte> Locator { get; }

    internal byte[] ManifestKey { get; }

    internal byte[] PackKey { get; }

    /// <summary>Derives the keys from a 32-byte archive key.</summary>
    /// <exception cref="ArgumentException">The key is not 32 bytes.</exception>
    public static ArchiveKeys Derive(ReadOnlySpan<byte> archiveKey)
    {
        if (archiveKey.Length != KeyLength)
            throw new ArgumentException($"an archive key is {KeyLength} bytes, got {archiveKey.Length}", nameof(archiveKey));
        return new ArchiveKeys(Expand(archiveKey, LocatorLabel), Expand(archiveKey, ManifestLabel), Expand(archiveKey, PackLabel));
    }

    /// <summary>The address the manifest with this sequence number is stored under: BLAKE3(locator ‖ u64le sequence).</summary>
    public ArchiveObjectId ManifestAddress(ulong sequence)
    {
        Span<byte> input = stackalloc byte[KeyLength + 8];
        Locator.Span.CopyTo(input);
        BinaryPrimitives.WriteUInt64LittleEndian(input[KeyLength..], sequence);
        return ArchiveObjectId.Manifest(Hashing.Blake3(input));
    }

    private static byte[] Expand(ReadOnlySpan<byte> archiveKey, byte[] label)
    {
        var output = new byte[KeyLength];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, archiveKey, output, Salt, label);
        return output;
    }
}
