using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Archive.Sinks;

public sealed partial class PeersSink
{
    /// <summary>The outcome of one placement: who confirmed, how many holders were found, why others did not.</summary>
    private sealed record Placement(List<(PeerId Holder, string Provider)> Placed, int Candidates, List<string> Refusals);

    /// <summary>
    /// Stores an object on <paramref name="wanted"/> more holders whose providers are not in <paramref name="usedProviders"/>,
    /// skipping <paramref name="skip"/>. Holders are taken in rendezvous order; each wave picks one holder per missing
    /// provider and stores to all of them at once (at most <see cref="PeersSinkOptions.Replicas"/> concurrent puts), so
    /// one object costs about one transfer time, not three. A failed holder frees its provider for the next wave.
    /// </summary>
    private async Task<Placement> PlaceOnAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, bool replace, HashSet<string> usedProviders,
        HashSet<PeerId> skip, int wanted, CancellationToken cancellationToken)
    {
        var placed = new List<(PeerId, string)>();
        var refusals = new List<string>();
        var candidates = await FindHoldersAsync(cancellationToken).ConfigureAwait(false);
        var queue = new Queue<PeerId>(candidates.Where(h => !skip.Contains(h)).OrderBy(h => Rank(id, h), ByteOrder.Instance));
        var providers = new HashSet<string>(usedProviders, StringComparer.Ordinal);
        // Holders whose provider was taken by a holder of this wave; used if that one fails.
        var deferred = new List<(PeerId Holder, string Provider)>();
        while (placed.Count < wanted)
        {
            var wave = new List<(PeerId Holder, string Provider)>();
            foreach (var entry in deferred.ToList())
            {
                if (wave.Count >= wanted - placed.Count) break;
                if (!providers.Add(entry.Provider)) continue;
                deferred.Remove(entry);
                wave.Add(entry);
            }
            while (wave.Count < wanted - placed.Count && queue.TryDequeue(out var holder))
            {
                string? provider;
                try
                {
                    provider = await _holderProvider(holder, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (IsHolderFailure(e, cancellationToken))
                {
                    refusals.Add($"{holder}: {e.Message}");
                    continue;
                }
                if (provider is null)
                {
                    refusals.Add($"{holder}: not an admitted archive holder");
                    continue;
                }
                if (providers.Add(provider)) wave.Add((holder, provider));
                else if (!usedProviders.Contains(provider)) deferred.Add((holder, provider));
            }
            if (wave.Count == 0) break;
            var outcomes = await Task.WhenAll(wave.Select(w => StoreOneAsync(w.Holder, id, data, replace, cancellationToken))).ConfigureAwait(false);
            for (var i = 0; i < wave.Count; i++)
            {
                if (outcomes[i] is null)
                {
                    placed.Add(wave[i]);
                    continue;
                }
                refusals.Add($"{wave[i].Holder}: {outcomes[i]}");
                providers.Remove(wave[i].Provider);
            }
        }
        return new Placement(placed, candidates.Count, refusals);
    }

    /// <summary>One put; null when the holder confirmed, else why it failed (the caller's cancellation propagates).</summary>
    private async Task<string?> StoreOneAsync(PeerId holder, ArchiveObjectId id, ReadOnlyMemory<byte> data, bool replace, CancellationToken cancellationToken)
    {
        try
        {
            await _client.StoreAsync(holder, id, data, replace, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (IsHolderFailure(e, cancellationToken))
        {
            Log.HolderFailed(_logger, holder.ToString(), id.ToString(), e.Message);
            return e.Message;
        }
    }
}
