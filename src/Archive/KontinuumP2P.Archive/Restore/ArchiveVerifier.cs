using KontinuumP2P.Archive.Contents;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Restore;

/// <summary>What a verify pass found.</summary>
/// <param name="Packs">Packs known (listed in the sink, plus expected ones).</param>
/// <param name="Verified">Packs read back whose BLAKE3 matched their id.</param>
/// <param name="Missing">Expected packs the sink does not hold.</param>
/// <param name="Corrupt">Sampled packs (and contents) whose bytes do not hash to their id.</param>
public sealed record VerifyReport(int Packs, int Verified, IReadOnlyList<ArchiveObjectId> Missing, IReadOnlyList<ArchiveObjectId> Corrupt)
{
    /// <summary>Archived contents listed in the sink (sampled like packs; corrupt ones are in <see cref="Corrupt"/>).</summary>
    public int Contents { get; init; }

    /// <summary>Sampled contents whose manifest hashed to the content id and every chunk to its manifest entry.</summary>
    public int ContentsVerified { get; init; }
}

/// <summary>
/// Reads back a rotating sample of a sink's packs and archived contents and checks each one against its id (BLAKE3
/// of a pack; a content's manifest against the content id and every chunk against the manifest; no key needed). A pack is in the
/// sample of round r when (first digest byte·100/256 − r·P) mod 100 &lt; P, so successive rounds cover disjoint
/// slices and ⌈100/P⌉ rounds cover every pack; P = 100 checks all.
/// </summary>
public static class ArchiveVerifier
{
    /// <summary>Verifies a sample of the sink's packs; <paramref name="expected"/> (e.g. the pusher's pack list) adds missing-pack detection.</summary>
    public static async Task<VerifyReport> VerifyAsync(IArchiveSink sink, int samplePercent, long round, IReadOnlyCollection<ArchiveObjectId>? expected,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentOutOfRangeException.ThrowIfLessThan(samplePercent, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(samplePercent, 100);
        var listed = new HashSet<ArchiveObjectId>();
        await foreach (var id in sink.ListAsync(ArchiveObjectKind.Pack, cancellationToken).ConfigureAwait(false)) listed.Add(id);
        var missing = expected?.Where(id => !listed.Contains(id)).Distinct().ToList() ?? [];
        var all = new HashSet<ArchiveObjectId>(listed);
        if (expected is not null) all.UnionWith(expected);
        var corrupt = new List<ArchiveObjectId>();
        var verified = 0;
        foreach (var id in listed)
        {
            if (!InSample(id, samplePercent, round)) continue;
            byte[]? bytes;
            try
            {
                bytes = await sink.GetAsync(id, PackFormat.MaxPackBytes, cancellationToken).ConfigureAwait(false);
            }
            catch (PackFormatException)
            {
                corrupt.Add(id);
                continue;
            }
            if (bytes is null) missing.Add(id);
            else if (PackReader.HasId(bytes, id)) verified++;
            else corrupt.Add(id);
        }
        var (contents, contentsVerified) = await VerifyContentsAsync(sink, samplePercent, round, missing, corrupt, cancellationToken).ConfigureAwait(false);
        return new VerifyReport(all.Count, verified, missing, corrupt) { Contents = contents, ContentsVerified = contentsVerified };
    }

    private static async Task<(int Listed, int Verified)> VerifyContentsAsync(IArchiveSink sink, int samplePercent, long round, List<ArchiveObjectId> missing,
        List<ArchiveObjectId> corrupt, CancellationToken cancellationToken)
    {
        int listed = 0, verified = 0;
        await foreach (var id in sink.ListAsync(ArchiveObjectKind.Content, cancellationToken).ConfigureAwait(false))
        {
            listed++;
            if (!InSample(id, samplePercent, round)) continue;
            byte[]? bytes;
            try
            {
                bytes = await sink.GetAsync(id, ContentObject.MaxBytes, cancellationToken).ConfigureAwait(false);
            }
            catch (PackFormatException)
            {
                corrupt.Add(id);
                continue;
            }
            if (bytes is null) missing.Add(id);
            else if (ContentObject.IsValid(bytes, id)) verified++;
            else corrupt.Add(id);
        }
        return (listed, verified);
    }

    /// <summary>Whether a pack is checked in this round at this sample size.</summary>
    public static bool InSample(ArchiveObjectId id, int samplePercent, long round)
    {
        if (samplePercent >= 100) return true;
        var bucket = id.Digest[0] * 100 / 256;
        var start = (int)(((round % 100) * samplePercent % 100 + 100) % 100);
        return ((bucket - start) % 100 + 100) % 100 < samplePercent;
    }
}
