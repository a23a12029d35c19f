using System.Runtime.CompilerServices;
using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Sinks;

namespace KontinuumP2P.Archive.Manifests;

/// <summary>
/// A mailbox's manifest chain in a sink. Manifest n is stored at BLAKE3(locator ‖ n); the pusher writes them in order
/// and never skips, so the chain is the prefix 0..head and its length is found by probing upward (1, 2, 4, … until
/// one is missing) and then bisecting: O(log n) existence checks, with nothing in the sink pointing at the head.
/// </summary>
public static class ManifestChain
{
    /// <summary>The number of manifests in the chain (the sequence the next one gets).</summary>
    public static async ValueTask<ulong> FindLengthAsync(IArchiveSink sink, ArchiveKeys keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(keys);
        if (!await sink.ExistsAsync(keys.ManifestAddress(0), cancellationToken).ConfigureAwait(false)) return 0;
        ulong present = 0, absent = 1;
        while (await sink.ExistsAsync(keys.ManifestAddress(absent), cancellationToken).ConfigureAwait(false))
        {
            present = absent;
            if (absent >= 1UL << 62) throw new PackFormatException("manifest chain longer than 2^62: the sink answers yes to everything");
            absent *= 2;
        }
        while (absent - present > 1)
        {
            var mid = present + (absent - present) / 2;
            if (await sink.ExistsAsync(keys.ManifestAddress(mid), cancellationToken).ConfigureAwait(false)) present = mid;
            else absent = mid;
        }
        return present + 1;
    }

    /// <summary>
    /// Reads the chain from the start, checking each link's address binding and its hash of the previous link; stops at
    /// the first missing sequence.
    /// </summary>
    /// <exception cref="PackFormatException">A link is corrupt or does not name its predecessor.</exception>
    public static async IAsyncEnumerable<(Manifest Manifest, byte[] Sealed)> ReadAsync(
        IArchiveSink sink, ArchiveKeys keys, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(keys);
        var previous = new byte[32];
        for (ulong sequence = 0; ; sequence++)
        {
            var sealedBox = await sink.GetAsync(keys.ManifestAddress(sequence), ManifestCodec.MaxSealedBytes, cancellationToken).ConfigureAwait(false);
            if (sealedBox is null) yield break;
            var manifest = ManifestCodec.Open(sealedBox, sequence, keys);
            if (!manifest.Previous.Span.SequenceEqual(previous)) throw new PackFormatException($"manifest {sequence} does not name manifest {sequence - 1} as its predecessor");
            previous = Hashing.Blake3(sealedBox);
            yield return (manifest, sealedBox);
        }
    }

    /// <summary>The hash a manifest's successor names it by.</summary>
    public static byte[] LinkHash(ReadOnlySpan<byte> sealedManifest) => Hashing.Blake3(sealedManifest);
}
