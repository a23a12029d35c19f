using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Archive.Sinks;

/// <summary>What one replica check of an object found and did.</summary>
/// <param name="Live">Distinct providers whose holder answered that it has the object.</param>
/// <param name="Added">New holders (each of a provider not holding it before) that confirmed a copy.</param>
/// <param name="Rebuilt">Whether the copy came from the caller's rebuild (no surviving holder served one).</param>
public sealed record ReplicaCheck(int Live, int Added, bool Rebuilt);

public sealed partial class PeersSink
{
    /// <summary>
    /// Brings an object back to <see cref="PeersSinkOptions.Replicas"/> holders of distinct providers: counts the
    /// announced holders that still answer that they have it, and if too few, copies it from a surviving holder (its
    /// bytes checked against the id), or else from <paramref name="rebuild"/>, to holders of providers not yet holding it.
    /// A holder that left keeps its provider records until they expire, so presence is asked, not taken from the DHT.
    /// </summary>
    /// <param name="id">The object.</param>
    /// <param name="rebuild">Rebuilds the object's bytes when no holder serves a good copy (e.g. from the replica's blobs); null: none.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <exception cref="IOException">Fewer than the replicas are held and no copy could be obtained or placed.</exception>
    public async Task<ReplicaCheck> EnsureReplicasAsync(ArchiveObjectId id, Func<CancellationToken, ValueTask<byte[]?>>? rebuild, CancellationToken cancellationToken)
    {
        var live = new List<PeerId>();
        var providers = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var holder in ProvidersAsync(id, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                if (!await _client.HasAsync(holder, id, cancellationToken).ConfigureAwait(false)) continue;
                if (await _holderProvider(holder, cancellationToken).ConfigureAwait(false) is not { } provider) continue;
                if (providers.Add(provider)) live.Add(holder);
            }
            catch (Exception e) when (IsHolderFailure(e, cancellationToken))
            {
                Log.HolderFailed(_logger, holder.ToString(), id.ToString(), e.Message);
            }
        }
        if (live.Count >= _options.Replicas) return new ReplicaCheck(live.Count, 0, Rebuilt: false);

        var data = await CopyFromAsync(live, id, cancellationToken).ConfigureAwait(false);
        var rebuilt = false;
        if (data is null && rebuild is not null)
        {
            data = await rebuild(cancellationToken).ConfigureAwait(false);
            if (data is not null) SinkChecks.BeforePut(id, data);
            rebuilt = data is not null;
        }
        if (data is null) throw new IOException($"{id} is on {live.Count} of {_options.Replicas} holders and no good copy could be read or rebuilt");
        var result = await PlaceOnAsync(id, data, replace: false, providers, [.. live], _options.Replicas - live.Count, cancellationToken).ConfigureAwait(false);
        if (result.Placed.Count > 0) Placed?.Invoke(id, result.Placed);
        if (live.Count + result.Placed.Count < _options.Replicas)
        {
            throw new IOException($"{id} is back on only {live.Count + result.Placed.Count} of {_options.Replicas} holders of distinct providers " +
                $"({result.Candidates} holders found{(result.Refusals.Count > 0 ? ": " + string.Join("; ", result.Refusals) : "")})");
        }
        return new ReplicaCheck(live.Count, result.Placed.Count, rebuilt);
    }

    /// <summary>The first copy a live holder serves that checks against the id; null when none does.</summary>
    private async Task<byte[]?> CopyFromAsync(List<PeerId> holders, ArchiveObjectId id, CancellationToken cancellationToken)
    {
        foreach (var holder in holders)
        {
            try
            {
                var data = await _client.FetchAsync(holder, id, SinkChecks.MaxBytes(id.Kind), cancellationToken).ConfigureAwait(false);
                if (data is null) continue;
                SinkChecks.BeforePut(id, data);
                return data;
            }
            catch (ArgumentException)
            {
                Log.CorruptCopy(_logger, holder.ToString(), id.ToString());
            }
            catch (Exception e) when (IsHolderFailure(e, cancellationToken))
            {
                Log.HolderFailed(_logger, holder.ToString(), id.ToString(), e.Message);
            }
        }
        return null;
    }
}
