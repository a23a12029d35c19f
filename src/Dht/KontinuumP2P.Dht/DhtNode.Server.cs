using System.Buffers;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht.Storage;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Dht;

public sealed partial class DhtNode
{
    /// <summary>Serves one inbound request. Invalid requests throw <see cref="InvalidDataException"/> (stream reset).</summary>
    private async ValueTask<KadMessage?> HandleRequestAsync(PeerId from, KadMessage request, CancellationToken cancellationToken)
    {
        if (!_requestRate.TryAcquire(from))
        {
            _metrics.RequestRateLimited();
            throw Invalid(from, "request rate over the per-peer limit");
        }
        if (await _options.Admission.WaitForDecisionAsync(from, cancellationToken).ConfigureAwait(false) == PeerAdmissionState.Refused)
            throw Invalid(from, "peer not admitted");
        _metrics.RequestServed(request.Type);
        // Whoever sends us requests may be a server: verify it in the background (it must answer to be admitted).
        OnCandidate(from);
        var now = _time.GetUtcNow();
        switch (request.Type)
        {
            case KadMessageType.FindNode:
                if (request.Key.Length is 0 or > RecordValidators.MaxKeyLength) throw Invalid(from, "bad FIND_NODE key");
                return Reply(request, CloserPeers(request.Key, from));
            case KadMessageType.GetValue:
            {
                if (RecordValidators.NamespaceOf(request.Key.Span) is null) throw Invalid(from, "bad GET_VALUE key");
                var stored = await _store.GetRecordAsync(request.Key, now, cancellationToken).ConfigureAwait(false);
                // A record that stopped being valid (e.g. its certificate was revoked) is no longer served.
                if (stored is not null && !_options.Validators.Validate(request.Key, stored.Record.Value).IsValid) stored = null;
                return Reply(request, CloserPeers(request.Key, from)) with { Record = stored?.Record ?? EmbeddedPublicKey(request.Key, now) };
            }
            case KadMessageType.PutValue:
                // Echoed (the libp2p acknowledgement) only once stored; anything else resets the stream.
                await StoreReceivedRecordAsync(from, request, now, cancellationToken).ConfigureAwait(false);
                return request;
            case KadMessageType.AddProvider:
                await StoreProvidersAsync(from, request, now, cancellationToken).ConfigureAwait(false);
                return null;
            case KadMessageType.GetProviders:
            {
                if (request.Key.Length is 0 or > RecordValidators.MaxKeyLength) throw Invalid(from, "bad GET_PROVIDERS key");
                var providers = await _store.GetProvidersAsync(request.Key, now, _options.MaxProvidersPerAnswer, cancellationToken).ConfigureAwait(false);
                return Reply(request, CloserPeers(request.Key, from)) with
                {
                    ProviderPeers = [.. providers.Select(p => new KadPeer(p.Provider, p.Addresses))],
                };
            }
            case KadMessageType.Ping:
                return request;
            default:
                throw Invalid(from, $"unknown type {request.Type}");
        }
    }

    private async Task StoreReceivedRecordAsync(PeerId from, KadMessage request, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (request.Record is not { } record || !record.Key.Span.SequenceEqual(request.Key.Span)) throw Invalid(from, "PUT_VALUE key and record key differ");
        var validation = _options.Validators.Validate(record.Key, record.Value);
        if (!validation.IsValid)
        {
            Reject(from, validation.Reason ?? "invalid");
            throw Invalid(from, $"record rejected: {validation.Reason}");
        }
        var existing = await _store.GetRecordAsync(record.Key, now, cancellationToken).ConfigureAwait(false);
        if (existing is not null && !IsBetter(record, existing.Record))
        {
            // We keep the better copy we hold: the sender must not believe its record is stored.
            Reject(from, "older-record");
            throw Invalid(from, "record older than the one held");
        }
        var stored = new StoredRecord(record with { TimeReceived = now }, now + _options.RecordTtl, existing?.IsOwn ?? false, from);
        if (!await _store.PutRecordAsync(stored, cancellationToken).ConfigureAwait(false))
        {
            Reject(from, "store-full");
            throw Invalid(from, "record not stored: a store bound is reached");
        }
    }

    private async Task StoreProvidersAsync(PeerId from, KadMessage request, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (request.Key.Length is 0 or > RecordValidators.MaxKeyLength) throw Invalid(from, "bad ADD_PROVIDER key");
        foreach (var provider in request.ProviderPeers)
        {
            // Only the sender may announce itself, and only with an address to reach it by.
            if (provider.PeerId != from || provider.Addresses.Count == 0) continue;
            if (!_options.MayProvide(from, request.Key))
            {
                Reject(from, "provider-not-entitled");
                continue;
            }
            var addresses = provider.Addresses.Take(_options.MaxProviderAddresses).ToList();
            _network.AddAddresses(from, addresses);
            var record = new ProviderRecord(from, addresses, now + _options.ProviderTtl);
            if (!await _store.AddProviderAsync(request.Key, record, cancellationToken).ConfigureAwait(false)) Reject(from, "store-full");
        }
    }

    /// <summary>Whether <paramref name="candidate"/> beats <paramref name="current"/> by the namespace selector.</summary>
    private bool IsBetter(DhtRecord candidate, DhtRecord current)
    {
        if (candidate.Value.Span.SequenceEqual(current.Value.Span)) return true; // same value: refresh its time
        if (!_options.Validators.Validate(current.Key, current.Value).IsValid) return true;
        return _options.Validators.Select(candidate.Key, [current.Value, candidate.Value]) == 1;
    }

    /// <summary>The k closest entries to a key, never the requester, us only when the key is our own id.</summary>
    private List<KadPeer> CloserPeers(ReadOnlyMemory<byte> key, PeerId requester)
    {
        // Served for every request: the table's entries go into pooled arrays, no view object per entry. The table
        // passes over the requester itself, so k entries are asked for; only when admission refuses some of them (or
        // they have no address) is the walk repeated for that many more.
        var size = _options.RoutingTable.BucketSize;
        var target = KadId.FromKey(key.Span);
        var self = key.Span.SequenceEqual(LocalPeer.Bytes);
        var wanted = size;
        while (true)
        {
            var length = wanted;
            var entries = ArrayPool<RoutingTable.KBucket.Entry>.Shared.Rent(length);
            var ids = ArrayPool<PeerId>.Shared.Rent(length);
            var books = ArrayPool<IReadOnlyList<Multiaddr>>.Shared.Rent(length);
            try
            {
                int found;
                lock (_tableLock) found = _table.ClosestInto(target, entries, length, exclude: requester);
                // The address book is asked for all of them at once (one look-up, not one per entry).
                for (var i = 0; i < found; i++) ids[i] = entries[i].PeerId;
                _network.GetAddresses(ids.AsSpan(0, found), books.AsSpan(0, found));
                var peers = new List<KadPeer>(Math.Min(found + 1, size));
                if (self) peers.Add(new KadPeer(LocalPeer, _network.LocalAddresses));
                var passedOver = 0;
                for (var i = 0; i < found && peers.Count < size; i++)
                {
                    var entry = entries[i];
                    // Admission is asked again (or its unchanged answer reused): an entry refused since it was added is
                    // never handed out.
                    if (MayServe(entry))
                    {
                        var addresses = books[i];
                        if (addresses.Count == 0) addresses = entry.Addresses;
                        if (addresses.Count > 0)
                        {
                            // The entry keeps the peer object it was last served as, reused while the address book hands
                            // out the same list: an answer's k peers are not allocated again for every request.
                            var served = entry.Served;
                            if (served is null || !ReferenceEquals(served.Addresses, addresses)) entry.Served = served = new KadPeer(entry.PeerId, addresses);
                            peers.Add(served);
                            continue;
                        }
                    }
                    passedOver++;
                }
                // The walk ran out of entries, or enough were served: the answer is complete.
                if (peers.Count >= size || found < length || passedOver == 0) return peers;
                wanted += passedOver;
            }
            finally
            {
                Array.Clear(entries, 0, length);
                Array.Clear(ids, 0, length);
                Array.Clear(books, 0, length);
                ArrayPool<RoutingTable.KBucket.Entry>.Shared.Return(entries);
                ArrayPool<PeerId>.Shared.Return(ids);
                ArrayPool<IReadOnlyList<Multiaddr>>.Shared.Return(books);
            }
        }
    }

    /// <summary>
    /// A <c>/pk/</c> record we can answer without storing it: Ed25519 peer ids are identity multihashes that carry the
    /// key (js answers these from its key book).
    /// </summary>
    private static DhtRecord? EmbeddedPublicKey(ReadOnlyMemory<byte> key, DateTimeOffset now)
    {
        var prefix = "/pk/"u8;
        if (!key.Span.StartsWith(prefix)) return null;
        try
        {
            var encoded = PeerId.FromBytes(key.Span[prefix.Length..]).TryGetEncodedPublicKey();
            return encoded is null ? null : new DhtRecord(key, encoded, now);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static KadMessage Reply(KadMessage request, List<KadPeer> closer) => new(request.Type, request.Key, null, closer, []);

    private void Reject(PeerId? from, string reason)
    {
        _metrics.RecordRejected(reason);
        _logger.RecordRejected(from, reason);
    }

    private InvalidDataException Invalid(PeerId from, string reason)
    {
        _logger.InvalidRequest(from, reason);
        return new InvalidDataException(reason);
    }
}
