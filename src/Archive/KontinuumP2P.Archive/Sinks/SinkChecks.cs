using KontinuumP2P.Archive.Contents;
using KontinuumP2P.Archive.Manifests;
using KontinuumP2P.Archive.Packs;

namespace KontinuumP2P.Archive.Sinks;

/// <summary>Checks every sink makes before storing.</summary>
internal static class SinkChecks
{
    public static void BeforePut(ArchiveObjectId id, ReadOnlySpan<byte> data)
    {
        if (id.Digest.Length != 32) throw new ArgumentException("empty object id", nameof(id));
        var max = MaxBytes(id.Kind);
        if (data.Length > max) throw new ArgumentException($"{id.Kind} of {data.Length} bytes exceeds {max}", nameof(data));
        if (id.Kind == ArchiveObjectKind.Pack && !PackReader.HasId(data, id))
            throw new ArgumentException($"pack bytes do not hash to {id}; refused", nameof(data));
        if (id.Kind == ArchiveObjectKind.Content && !ContentObject.IsValid(data, id))
            throw new ArgumentException($"content bytes do not verify against {id}; refused", nameof(data));
    }

    /// <summary>The largest object of a kind any sink stores or returns.</summary>
    public static long MaxBytes(ArchiveObjectKind kind) => kind switch
    {
        ArchiveObjectKind.Pack => PackFormat.MaxPackBytes,
        ArchiveObjectKind.Content => ContentObject.MaxBytes,
        _ => ManifestCodec.MaxSealedBytes,
    };

    public static PackFormatException TooLarge(ArchiveObjectId id, long length, long max) =>
        new($"{id} is {length} bytes, more than the {max} allowed");
}
