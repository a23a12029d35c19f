using KontinuumP2P.Archive.Pushing;

namespace KontinuumP2P.Archive.Tests;

/// <summary>Random sealed-looking blobs with their BLAKE3 ids.</summary>
internal static class TestBlobs
{
    public static byte[] Id(ReadOnlySpan<byte> data)
    {
        var id = new byte[32];
        Blake3.Hasher.Hash(data, id);
        return id;
    }

    public static List<ArchiveBlob> Make(Random random, int count, int minBytes, int maxBytes, ulong firstCursor = 1)
    {
        var blobs = new List<ArchiveBlob>(count);
        for (var i = 0; i < count; i++)
        {
            var data = new byte[random.Next(minBytes, maxBytes + 1)];
            random.NextBytes(data);
            blobs.Add(new ArchiveBlob(firstCursor + (ulong)i, Id(data), data));
        }
        return blobs;
    }

    public static byte[] Key(Random random)
    {
        var key = new byte[32];
        random.NextBytes(key);
        return key;
    }
}
