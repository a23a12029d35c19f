using System.Security.Cryptography;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Certs.Secrets;

/// <summary>What a key file holds; a key of one kind is never loaded as the other.</summary>
public enum KeyFileKind : byte
{
    /// <summary>A node identity key.</summary>
    Node = 1,

    /// <summary>A Tier 0 anchor key.</summary>
    Tier0 = 2,
}

/// <summary>
/// Ed25519 key files. Plain form (73 bytes): <c>"KPKEY001" | kind u8 | seed[32] | public key[32]</c> — the public key
/// lets a damaged file be detected on load. Encrypted form: the plain form sealed in a <see cref="PassphraseEnvelope"/>
/// whose content type is the kind. A Tier 0 backup is the encrypted form of a Tier 0 key file.
/// </summary>
public static class KeyFile
{
    /// <summary>Largest key file read.</summary>
    public const int MaxFileLength = 4096;

    private const int PlainLength = 8 + 1 + 32 + 32;

    private static ReadOnlySpan<byte> Magic => "KPKEY001"u8;

    /// <summary>The plain encoding (the caller erases it after writing).</summary>
    public static byte[] EncodePlain(Ed25519Identity key, KeyFileKind kind)
    {
        var bytes = new byte[PlainLength];
        Magic.CopyTo(bytes);
        bytes[8] = (byte)kind;
        var seed = key.ExportSeed();
        seed.CopyTo(bytes, 9);
        CryptographicOperations.ZeroMemory(seed);
        key.PublicKey.CopyTo(bytes, 41);
        return bytes;
    }

    /// <summary>The encrypted encoding.</summary>
    public static byte[] EncodeEncrypted(Ed25519Identity key, KeyFileKind kind, string passphrase, KdfParameters kdf)
    {
        var plain = EncodePlain(key, kind);
        try
        {
            return PassphraseEnvelope.Seal(plain, passphrase, (byte)kind, kdf);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    /// <summary>Whether the bytes are the encrypted form.</summary>
    public static bool IsEncrypted(ReadOnlySpan<byte> bytes) => PassphraseEnvelope.IsEnvelope(bytes);

    /// <summary>Loads a key of <paramref name="expected"/> kind, decrypting with <paramref name="passphrase"/> when needed.</summary>
    /// <exception cref="TrustFormatException">Malformed, wrong kind, damaged, or encrypted with no passphrase given.</exception>
    /// <exception cref="CryptographicException">Wrong passphrase (nothing decrypted).</exception>
    public static Ed25519Identity Decode(ReadOnlySpan<byte> bytes, KeyFileKind expected, string? passphrase)
    {
        if (bytes.Length > MaxFileLength) throw new TrustFormatException($"key file is {bytes.Length} bytes, over {MaxFileLength}");
        if (IsEncrypted(bytes))
        {
            if (passphrase is null) throw new TrustFormatException("key file is encrypted: give its passphrase");
            var plain = PassphraseEnvelope.Open(bytes, passphrase, out var contentType);
            try
            {
                if (contentType != (byte)expected) throw new TrustFormatException($"encrypted file holds a {Describe(contentType)} key, expected a {Describe((byte)expected)} key");
                return DecodePlain(plain, expected);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(plain);
            }
        }
        return DecodePlain(bytes, expected);
    }

    /// <summary>Reads a file, refusing oversized ones before reading.</summary>
    /// <exception cref="TrustFormatException">Over <paramref name="maxLength"/>.</exception>
    public static byte[] ReadBounded(string path, int maxLength)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"file {path} does not exist", path);
        if (info.Length > maxLength) throw new TrustFormatException($"{path} is {info.Length} bytes, over the {maxLength}-byte limit");
        return File.ReadAllBytes(path);
    }

    /// <summary>
    /// Creates <paramref name="path"/> with owner-only permissions (0600 on Unix) from the start; refuses to overwrite.
    /// Crash-safe: the bytes go to a temporary file beside it, flushed to disk, then linked into place without
    /// overwriting, so after a crash <paramref name="path"/> is either absent or complete, never empty or partial.
    /// </summary>
    /// <exception cref="IOException">The file exists.</exception>
    public static void WriteSecret(string path, ReadOnlySpan<byte> bytes)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        if (File.Exists(full)) throw new IOException($"{full} already exists; refusing to overwrite it");
        // One fixed temporary name per target: a leftover from a crash is replaced, not accumulated.
        var temp = Path.Combine(directory, $".{Path.GetFileName(full)}.tmp");
        File.Delete(temp);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            // Without overwrite, File.Move links the new name and then unlinks the temporary one: atomic, and it fails
            // if the target appeared meanwhile.
            File.Move(temp, full, overwrite: false);
        }
        finally
        {
            File.Delete(temp);
        }
        // The new directory entry is durable only once the directory is.
        DurableFiles.FlushDirectory(directory);
    }

    private static Ed25519Identity DecodePlain(ReadOnlySpan<byte> bytes, KeyFileKind expected)
    {
        if (!bytes.StartsWith(Magic)) throw new TrustFormatException("not a Kontinuum key file (magic KPKEY001 or KPSEAL01 missing)");
        if (bytes.Length != PlainLength) throw new TrustFormatException($"key file is {bytes.Length} bytes, expected {PlainLength}");
        if (bytes[8] != (byte)expected) throw new TrustFormatException($"key file holds a {Describe(bytes[8])} key, expected a {Describe((byte)expected)} key");
        var key = Ed25519Identity.FromSeed(bytes.Slice(9, 32));
        if (!key.PublicKey.AsSpan().SequenceEqual(bytes.Slice(41, 32)))
        {
            key.Dispose();
            throw new TrustFormatException("key file is damaged: its public key does not match its private key");
        }
        return key;
    }

    private static string Describe(byte kind) => kind switch
    {
        (byte)KeyFileKind.Node => "node",
        (byte)KeyFileKind.Tier0 => "Tier 0",
        _ => $"unknown ({kind})",
    };
}
