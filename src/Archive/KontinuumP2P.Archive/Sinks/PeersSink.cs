using System.Runtime.CompilerServices;
using KontinuumP2P.Archive.Crypto;
using KontinuumP2P.Archive.Holders;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Rpc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Archive.Sinks;

/// <summary>
/// <c>peers</c>: the network's own archive holders (<see cref="ArchiveHolderServer"/>). Holders are found through DHT
/// provider records under <see cref="ArchiveHolderProtocol.HoldersKey"/>: the DHT stores an <c>/archive/</c> provider
/// record only from an admitted peer whose certificate carries <c>archive</c>, so the list cannot be padded by
/// uncertified peers, and each candidate's certificate is checked again on connection (<c>holderProvider</c>), which
/// also yields its provider. A put is confirmed only once <see cref="PeersSinkOptions.Replicas"/> holders of distinct
/// providers answered that the object is durably stored; otherwise it throws, so the pusher does not advance
/// <c>archived_up_to</c> and retries the (idempotent) pack next round. Placement is rendezvous hashing of the object
/// id with each holder id, so load spreads and a retry goes to the same holders first. Holders announce each object
/// under <see cref="ArchiveHolderProtocol.ProviderKey"/>; gets find copies through GET_PROVIDERS and check a pack's
/// BLAKE3 before returning it (a corrupt copy is skipped for the next holder).
/// </summary>
public sealed partial class PeersSink : IArchiveSink
{
    private readonly IPeerHost _host;
    private readonly DhtNode _dht;
    private readonly Func<PeerId, CancellationToken, ValueTask<string?>> _holderProvider;
    private readonly PeersSinkOptions _options;
    private readonly ArchiveHolderClient _client;
    private readonly ILogger _logger;

    /// <summary>Creates the sink over a started node's host and DHT.</summary>
    /// <param name="host">The host streams are opened from.</param>
    /// <param name="dht">The DHT that finds holders and copies.</param>
    /// <param name="holderProvider">For a peer: connects, checks its admitted certificate carries <c>archive</c> and returns its provider; null when it is no holder.</param>
    /// <param name="options">Replicas and limits (default: 3 replicas).</param>
    /// <param name="loggerFactory">Logging.</param>
    public PeersSink(IPeerHost host, DhtNode dht, Func<PeerId, CancellationToken, ValueTask<string?>> holderProvider, PeersSinkOptions? options = null,
        ILoggerFactory? loggerFactory = null)
    {
        _host = host ?? throw new ArgumentNullException(nameof(host));
        _dht = dht ?? throw new ArgumentNullException(nameof(dht));
        _holderProvider = holderProvider ?? throw new ArgumentNullException(nameof(holderProvider));
        _options = options ?? new PeersSinkOptions();
        _options.Validate();
        _client = new ArchiveHolderClient(host, _options.RequestTimeout, _options.TransferTimeout);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<PeersSink>();
    }

    /// <inheritdoc />
    public string Name => "peers";

    /// <summary>Raised after a put or replace with the holders that confirmed it (tests and status read it).</summary>
    public event Action<ArchiveObjectId, IReadOnlyList<(PeerId Holder, string Provider)>>? Placed;

    /// <inheritdoc />
    public async ValueTask PutAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        SinkChecks.BeforePut(id, data.Span);
        await PlaceAsync(id, data, replace: false, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask ReplaceAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        SinkChecks.BeforePut(id, data.Span);
        if (id.Kind == ArchiveObjectKind.Pack)
        {
            // Every holder of a copy gets the checked bytes (a holder stores a pack only if it hashes to its id).
            await foreach (var holder in ProvidersAsync(id, cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await _client.StoreAsync(holder, id, data, replace: true, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (IsHolderFailure(e, cancellationToken))
                {
                    Log.HolderFailed(_logger, holder.ToString(), id.ToString(), e.Message);
                }
            }
        }
        await PlaceAsync(id, data, replace: id.Kind == ArchiveObjectKind.Pack, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<byte[]?> GetAsync(ArchiveObjectId id, long maxBytes, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        var answered = false;
        await foreach (var holder in ProvidersAsync(id, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                var data = await _client.FetchAsync(holder, id, maxBytes, cancellationToken).ConfigureAwait(false);
                answered = true;
                if (data is null) continue;
                if (id.Kind == ArchiveObjectKind.Pack && !PackReader.HasId(data, id))
                {
                    Log.CorruptCopy(_logger, holder.ToString(), id.ToString());
                    failures.Add($"{holder}: corrupt copy");
                    continue;
                }
                return data;
            }
            catch (Exception e) when (IsHolderFailure(e, cancellationToken))
            {
                Log.HolderFailed(_logger, holder.ToString(), id.ToString(), e.Message);
                failures.Add($"{holder}: {e.Message}");
            }
        }
        if (!answered && failures.Count > 0) throw new IOException($"no holder of {id} answered: {string.Join("; ", failures)}");
        return null;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ExistsAsync(ArchiveObjectId id, CancellationToken cancellationToken)
    {
        int failures = 0, answers = 0;
        await foreach (var holder in ProvidersAsync(id, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                if (await _client.HasAsync(holder, id, cancellationToken).ConfigureAwait(false)) return true;
                answers++;
            }
            catch (Exception e) when (IsHolderFailure(e, cancellationToken))
            {
                failures++;
                Log.HolderFailed(_logger, holder.ToString(), id.ToString(), e.Message);
            }
        }
        // Announced holders that all failed to answer are not an answer of "absent" (the manifest chain probes on it).
        if (answers == 0 && failures > 0) throw new IOException($"none of the {failures} announced holders of {id} answered");
        return false;
    }

    /// <summary>Lists every object of one kind held by the holders found now (pages of at most 1000 names per holder request).</summary>
    public async IAsyncEnumerable<ArchiveObjectId> ListAsync(ArchiveObjectKind kind, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var holder in await FindHoldersAsync(cancellationToken).ConfigureAwait(false))
        {
            var after = "";
            while (true)
            {
                IReadOnlyList<string> page;
                try
                {
                    page = await _client.ListAsync(holder, kind == ArchiveObjectKind.Manifest, after, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (IsHolderFailure(e, cancellationToken))
                {
                    Log.HolderFailed(_logger, holder.ToString(), "(list)", e.Message);
                    break;
                }
                foreach (var name in page)
                {
                    if (seen.Add(name) && ArchiveObjectId.TryParse(name, out var id) && id.Kind == kind) yield return id;
                }
                if (page.Count == 0 || string.CompareOrdinal(page[^1], after) <= 0) break;
                after = page[^1];
            }
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async Task PlaceAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, bool replace, CancellationToken cancellationToken)
    {
        var result = await PlaceOnAsync(id, data, replace, [], [], _options.Replicas, cancellationToken).ConfigureAwait(false);
        if (result.Placed.Count < _options.Replicas)
        {
            throw new IOException($"{id} is on {result.Placed.Count} of the {_options.Replicas} archive holders of distinct providers required " +
                $"({result.Candidates} holders found{(result.Refusals.Count > 0 ? ": " + string.Join("; ", result.Refusals) : "")})");
        }
        Placed?.Invoke(id, result.Placed);
    }

    /// <summary>The holders announced under the holders key, ourselves excepted.</summary>
    private async Task<List<PeerId>> FindHoldersAsync(CancellationToken cancellationToken)
    {
        var holders = new List<PeerId>();
        await foreach (var peer in _dht.FindProvidersAsync(ArchiveHolderProtocol.HoldersKey, _options.MaxCandidates, cancellationToken).ConfigureAwait(false))
        {
            if (Learn(peer) is { } holder) holders.Add(holder);
        }
        return holders;
    }

    private async IAsyncEnumerable<PeerId> ProvidersAsync(ArchiveObjectId id, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var peer in _dht.FindProvidersAsync(ArchiveHolderProtocol.ProviderKey(id), _options.MaxProviders, cancellationToken).ConfigureAwait(false))
        {
            if (Learn(peer) is { } holder) yield return holder;
        }
    }

    private PeerId? Learn(KadPeer peer)
    {
        if (peer.PeerId == _host.PeerId) return null;
        if (peer.Addresses.Count > 0) _host.PeerStore.AddAddresses(peer.PeerId, peer.Addresses, TimeSpan.FromMinutes(10));
        return peer.PeerId;
    }

    private static byte[] Rank(ArchiveObjectId id, PeerId holder) => Hashing.Blake3([.. id.Digest, .. holder.Bytes]);

    private static bool IsHolderFailure(Exception e, CancellationToken cancellationToken) =>
        e is IOException or InvalidDataException or TimeoutException or PackFormatException
        || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 90, Level = LogLevel.Information, Message = "Archive holder {Holder} failed for {Object}: {Reason}")]
        public static partial void HolderFailed(ILogger logger, string holder, string @object, string reason);

        [LoggerMessage(EventId = 91, Level = LogLevel.Warning, Message = "Archive holder {Holder} returned a corrupt copy of {Object}")]
        public static partial void CorruptCopy(ILogger logger, string holder, string @object);
    }
}
