using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht.Storage;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Dht;

public sealed partial class DhtNode
{
    /// <summary>
    /// The maintenance loop: wakes every tick; refreshes the table every refresh interval or sooner when it runs
    /// low; drops expired records; republishes our records and provider records, batched by key-space region.
    /// </summary>
    private async Task RunMaintenanceAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var nextRefresh = now + _options.RefreshInterval;
        var nextExpiry = now + _options.ExpiryInterval;
        var nextRepublish = now + _options.RepublishInterval;
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(_options.MaintenanceTick, _time, cancellationToken).ConfigureAwait(false);
            now = _time.GetUtcNow();
            RemoveRefusedPeers();
            if (now >= nextRefresh || RoutingTableSize < _options.LowTableThreshold)
            {
                nextRefresh = now + _options.RefreshInterval;
                await MaintainAsync("refresh", RefreshAsync, cancellationToken).ConfigureAwait(false);
            }
            if (now >= nextExpiry)
            {
                nextExpiry = now + _options.ExpiryInterval;
                await MaintainAsync("expiry", async ct => await _store.RemoveExpiredAsync(_time.GetUtcNow(), ct).ConfigureAwait(false),
                    cancellationToken).ConfigureAwait(false);
            }
            if (now >= nextRepublish)
            {
                nextRepublish = now + _options.RepublishInterval;
                await MaintainAsync("republish", RepublishAsync, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Drops every table entry that admission now refuses or holds for a client (a certificate expired or was revoked,
    /// connected or not); runs every maintenance tick. Returns how many went.
    /// </summary>
    public int RemoveRefusedPeers()
    {
        List<PeerId>? gone;
        lock (_tableLock)
        {
            // Every tick on every node: no snapshot of views, and nothing allocated when all entries may stay.
            gone = _table.EntriesWhere(RefusedFilter);
            if (gone is null) return 0;
            foreach (var peer in gone) _table.Remove(peer);
        }
        foreach (var peer in gone) _logger.RoutingChange(peer, "no longer admitted");
        return gone.Count;
    }

    /// <summary><see cref="MayServe(RoutingTable.KBucket.Entry)"/> negated, allocated once.</summary>
    private Func<RoutingTable.KBucket.Entry, bool> RefusedFilter => field ??= entry => !MayServe(entry);

    /// <summary>Whether admission lets <paramref name="peer"/> be a server of ours (admitted, or not decided yet).</summary>
    private bool MayServe(PeerId peer) => _options.Admission.GetState(peer) is PeerAdmissionState.Admitted or PeerAdmissionState.Pending;

    /// <summary>
    /// <see cref="MayServe(PeerId)"/> for a table entry: when the admission numbers its changes and none happened since
    /// the entry was last found servable, the answer is the same and admission is not asked again (the server's answer
    /// asks for every entry it hands out, a dictionary look-up each, in a heap where each is a cache miss).
    /// </summary>
    private bool MayServe(RoutingTable.KBucket.Entry entry)
    {
        if (_admissionGeneration is not { } admission) return MayServe(entry.PeerId);
        var cached = entry.ServableGeneration;
        if (cached >= 0 && cached == admission.Generation) return true;
        var servable = admission.GetState(entry.PeerId, out var generation) is PeerAdmissionState.Admitted or PeerAdmissionState.Pending;
        entry.ServableGeneration = servable ? generation : -1;
        return servable;
    }

    private async Task MaintainAsync(string step, Func<CancellationToken, Task> action, CancellationToken cancellationToken)
    {
        try
        {
            await action(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.MaintenanceFailed(step, e);
        }
    }

    /// <summary>
    /// Republishes our own records and provider keys. Keys are sorted by kad id and grouped by a shared prefix as
    /// long as the table's depth (≈ log2(network size / k)), so one lookup serves every key of a region: their k
    /// closest peers are the same or nearly so.
    /// </summary>
    public async Task RepublishAsync(CancellationToken cancellationToken)
    {
        var records = await _store.GetOwnRecordsAsync(cancellationToken).ConfigureAwait(false);
        var providerKeys = await _store.GetProvidedKeysAsync(LocalPeer, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var work = records.Select(r => (Key: r.Record.Key, Record: (DhtRecord?)(r.Record with { TimeReceived = now })))
            .Concat(providerKeys.Select(k => (Key: k, Record: (DhtRecord?)null)))
            .Select(w => (w.Key, w.Record, Id: KadId.FromKey(w.Key.Span)))
            .OrderBy(w => w.Id)
            .ToList();
        var prefixBits = RegionPrefixBits();
        var index = 0;
        while (index < work.Count)
        {
            var head = work[index].Id;
            var batchEnd = index + 1;
            while (batchEnd < work.Count && work[batchEnd].Id.CommonPrefixLength(head) >= prefixBits) batchEnd++;
            var closest = await RunLookupAsync("republish", work[index].Key, KadMessageType.FindNode, KClosestLookup,
                (_, _) => false, cancellationToken).ConfigureAwait(false);
            for (var i = index; i < batchEnd; i++)
            {
                var (key, record, _) = work[i];
                if (record is not null)
                {
                    await _store.PutRecordAsync(new StoredRecord(record, now + _options.RecordTtl, true), cancellationToken).ConfigureAwait(false);
                    await PutToAsync(closest.Peers, record, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await _store.AddProviderAsync(key, new ProviderRecord(LocalPeer, _network.LocalAddresses, now + _options.ProviderTtl),
                        cancellationToken).ConfigureAwait(false);
                    var request = new KadMessage(KadMessageType.AddProvider, key, null, [], [new KadPeer(LocalPeer, _network.LocalAddresses)]);
                    await SendToAllAsync(closest.Peers, request, cancellationToken).ConfigureAwait(false);
                }
            }
            index = batchEnd;
        }
        _logger.Republished(records.Count, providerKeys.Count);
    }

    /// <summary>Buckets at least half full before the first sparse one ≈ log2(network size / k).</summary>
    private int RegionPrefixBits()
    {
        lock (_tableLock)
        {
            var bits = 0;
            while (bits < KadId.Bits && _table.BucketSize(bits) >= _options.RoutingTable.BucketSize / 2) bits++;
            return bits;
        }
    }
}
