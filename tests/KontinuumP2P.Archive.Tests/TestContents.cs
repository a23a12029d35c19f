using KontinuumP2P.Mailbox.Content;

namespace KontinuumP2P.Archive.Tests;

/// <summary>Real contents (random plaintext, sealed chunk by chunk with the content cipher) put into a real content store.</summary>
internal static class TestContents
{
    public sealed record Made(ContentReference Reference, ContentManifest Manifest, byte[] Plain, byte[][] Chunks);

    public static Made Make(Random random, int size, int chunkSize, string name)
    {
        var plain = new byte[size];
        random.NextBytes(plain);
        var count = (int)ContentLimits.ChunkCountOf(size, chunkSize);
        var key = new byte[ContentCipher.KeyLength];
        random.NextBytes(key);
        using var cipher = new ContentCipher(key, size, chunkSize, count);
        var chunks = new byte[count][];
        var hashes = new byte[count * ContentManifest.HashLength];
        for (var i = 0; i < count; i++)
        {
            var part = plain.AsSpan(i * chunkSize, Math.Min(chunkSize, size - (i * chunkSize)));
            chunks[i] = new byte[part.Length + ContentCipher.TagLength];
            cipher.Encrypt(i, part, chunks[i]);
            Blake3.Hasher.Hash(chunks[i], hashes.AsSpan(i * ContentManifest.HashLength, ContentManifest.HashLength));
        }
        var manifest = ContentManifest.Create(size, chunkSize, hashes, new ContentLimits());
        return new Made(new ContentReference(manifest.Id, size, chunkSize, count, key, name), manifest, plain, chunks);
    }

    /// <summary>Makes a content and stores it (all chunks, or only the first <paramref name="chunks"/>).</summary>
    public static async Task<Made> AddAsync(ContentStore store, Random random, int size, int chunkSize, string name, int? chunks = null)
    {
        var made = Make(random, size, chunkSize, name);
        await store.BeginAsync(made.Manifest, CancellationToken.None);
        for (var i = 0; i < (chunks ?? made.Chunks.Length); i++) await store.PutChunkAsync(made.Manifest.Id, i, made.Chunks[i], CancellationToken.None);
        return made;
    }
}
