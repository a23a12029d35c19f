using System.Buffers;
using KontinuumP2P.Certs.Hashing;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// Encrypt then hash: reads a file chunk by chunk, seals each chunk under a fresh key and hashes the ciphertext into
/// the manifest. Nothing is kept but the hashes; the upload re-seals each chunk when it sends it (sealing is
/// deterministic).
/// </summary>
public static class ContentEncoder
{
    /// <summary>Encrypts and hashes <paramref name="path"/>; returns its reference (with the fresh key) and manifest.</summary>
    /// <exception cref="ContentException">The file breaks a limit.</exception>
    public static Task<(ContentReference Reference, ContentManifest Manifest)> PrepareAsync(string path, ContentLimits limits,
        int chunkSize = ContentLimits.DefaultChunkSize, CancellationToken cancellationToken = default) =>
        EncodeAsync(path, limits, chunkSize, null, null, cancellationToken);

    /// <summary>As the public overload, counting the chunks sealed in <paramref name="counter"/>.</summary>
    internal static Task<(ContentReference Reference, ContentManifest Manifest)> PrepareAsync(string path, ContentLimits limits, int chunkSize,
        SealCounter? counter, CancellationToken cancellationToken) =>
        EncodeAsync(path, limits, chunkSize, null, counter, cancellationToken);

    /// <summary>
    /// Encrypts and hashes <paramref name="path"/> again under the key and chunk size of <paramref name="reference"/>
    /// (sealing is deterministic), to resume an upload of the same file under the same content id.
    /// </summary>
    /// <exception cref="ContentException">A limit, or the file no longer matches the reference (<see cref="ContentErrorCode.BadManifest"/>).</exception>
    public static Task<ContentManifest> PrepareAgainAsync(string path, ContentLimits limits, ContentReference reference, CancellationToken cancellationToken = default) =>
        PrepareAgainAsync(path, limits, reference, null, cancellationToken);

    /// <summary>As the public overload, counting the chunks sealed in <paramref name="counter"/>.</summary>
    internal static async Task<ContentManifest> PrepareAgainAsync(string path, ContentLimits limits, ContentReference reference, SealCounter? counter,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var (again, manifest) = await EncodeAsync(path, limits, reference.ChunkSize, reference.Key, counter, cancellationToken).ConfigureAwait(false);
        if (!again.Id.Equals(reference.Id))
            throw new ContentException(ContentErrorCode.BadManifest, $"{path} no longer matches content {reference.Id} (it changed since the upload began); start a new upload");
        return manifest;
    }

    private static async Task<(ContentReference Reference, ContentManifest Manifest)> EncodeAsync(string path, ContentLimits limits, int chunkSize, byte[]? key,
        SealCounter? counter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(limits);
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var size = file.Length;
        var count = ContentLimits.ChunkCountOf(size, chunkSize);
        limits.Check(size, chunkSize, count);
        key ??= ContentCipher.NewKey();
        var hashes = new byte[count * ContentManifest.HashLength];
        using (var cipher = new ContentCipher(key, size, chunkSize, (int)count) { Counter = counter })
        {
            var plain = ArrayPool<byte>.Shared.Rent(chunkSize);
            var sealedChunk = ArrayPool<byte>.Shared.Rent(chunkSize + ContentCipher.TagLength);
            try
            {
                for (var i = 0; i < count; i++)
                {
                    var length = (int)Math.Min(chunkSize, size - ((long)i * chunkSize));
                    await file.ReadExactlyAsync(plain.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                    cipher.Encrypt(i, plain.AsSpan(0, length), sealedChunk.AsSpan(0, length + ContentCipher.TagLength));
                    Blake3.Hash(sealedChunk.AsSpan(0, length + ContentCipher.TagLength), hashes.AsSpan(i * ContentManifest.HashLength, ContentManifest.HashLength));
                }
            }
            finally
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(plain);
                ArrayPool<byte>.Shared.Return(plain);
                ArrayPool<byte>.Shared.Return(sealedChunk);
            }
        }
        var manifest = ContentManifest.Create(size, chunkSize, hashes, limits);
        var name = Path.GetFileName(path);
        if (name.Length > ContentReference.MaxNameLength) name = name[..ContentReference.MaxNameLength];
        return (new ContentReference(manifest.Id, size, chunkSize, manifest.ChunkCount, key, name), manifest);
    }

    /// <summary>Reads and seals chunk <paramref name="index"/> of an open file into <paramref name="ciphertext"/>; returns its length.</summary>
    internal static async Task<int> SealChunkAsync(RandomAccessFileReader file, ContentCipher cipher, ContentManifest manifest, int index,
        byte[] plaintext, byte[] ciphertext, CancellationToken cancellationToken)
    {
        var length = manifest.PlaintextLengthOf(index);
        await file.ReadAsync(plaintext.AsMemory(0, length), (long)index * manifest.ChunkSize, cancellationToken).ConfigureAwait(false);
        cipher.Encrypt(index, plaintext.AsSpan(0, length), ciphertext.AsSpan(0, length + ContentCipher.TagLength));
        return length + ContentCipher.TagLength;
    }
}

/// <summary>Positional reads of a file shared by concurrent workers.</summary>
internal sealed class RandomAccessFileReader(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
{
    public async Task ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var n = await RandomAccess.ReadAsync(handle, buffer[filled..], offset + filled, cancellationToken).ConfigureAwait(false);
            if (n == 0) throw new IOException("the file changed size while it was being sent");
            filled += n;
        }
    }
}
