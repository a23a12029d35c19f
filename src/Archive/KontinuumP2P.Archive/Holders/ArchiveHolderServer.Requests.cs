using System.Buffers;
using KontinuumP2P.Archive.Manifests;
using KontinuumP2P.Archive.Packs;
using KontinuumP2P.Archive.Protos.Holder;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Archive.Holders;

public sealed partial class ArchiveHolderServer
{
    private async Task StoreAsync(IP2PStream stream, PeerId peer, StoreRequest request, CancellationToken cancellationToken)
    {
        if (await CheckStoreAsync(peer, request, cancellationToken).ConfigureAwait(false) is { } refusal)
        {
            Log.Refused(_logger, request.Object, peer.ToString(), (HolderErrorCode)refusal.Code, refusal.Message);
            CountRefusal((HolderErrorCode)refusal.Code);
            await RespondAsync(stream, refusal, cancellationToken).ConfigureAwait(false);
            return;
        }
        var id = ArchiveObjectId.Parse(request.Object);
        var path = Store.PathOf(id);
        if (File.Exists(path) && (!request.Replace || id.Kind == ArchiveObjectKind.Manifest))
        {
            // Already held: the id names the bytes (packs), or the address was written once (manifests).
            await RespondAsync(stream, new HolderResponse { Present = true, Size = (ulong)new FileInfo(path).Length }, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (!_storeGate.Wait(0))
        {
            CountRefusal(HolderErrorCode.Busy);
            await RespondAsync(stream, Error(HolderErrorCode.Busy, "the holder is receiving as many stores as it allows"), cancellationToken).ConfigureAwait(false);
            return;
        }
        var size = (long)request.Size;
        var reserved = false;
        try
        {
            if (Interlocked.Add(ref _usedBytes, size) > Options.QuotaBytes)
            {
                Interlocked.Add(ref _usedBytes, -size);
                var quota = Error(HolderErrorCode.QuotaExceeded, $"{size} more bytes would pass the holder's quota of {Options.QuotaBytes}");
                Log.Refused(_logger, request.Object, peer.ToString(), HolderErrorCode.QuotaExceeded, quota.Message);
                CountRefusal(HolderErrorCode.QuotaExceeded);
                await RespondAsync(stream, quota, cancellationToken).ConfigureAwait(false);
                return;
            }
            reserved = true;
            await RespondAsync(stream, new HolderResponse(), cancellationToken).ConfigureAwait(false);
            var data = new byte[size];
            await ArchiveHolderProtocol.ReadChunksAsync(stream.Input, data, cancellationToken).ConfigureAwait(false);
            if (id.Kind == ArchiveObjectKind.Pack && !PackReader.HasId(data, id))
            {
                Log.Refused(_logger, request.Object, peer.ToString(), HolderErrorCode.HashMismatch, "bytes do not hash to the id");
                CountRefusal(HolderErrorCode.HashMismatch);
                await RespondAsync(stream, Error(HolderErrorCode.HashMismatch, $"the {size} bytes received do not hash to {id}; nothing stored"), cancellationToken)
                    .ConfigureAwait(false);
                return;
            }
            var replaced = File.Exists(path) ? new FileInfo(path).Length : -1;
            try
            {
                if (request.Replace) await Store.ReplaceAsync(id, data, cancellationToken).ConfigureAwait(false);
                else await Store.PutAsync(id, data, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await RespondAsync(stream, Error(HolderErrorCode.Internal, $"the holder could not write {id}: {e.Message}"), cancellationToken).ConfigureAwait(false);
                return;
            }
            // Stored: the reservation stays, less whatever this write replaced (or a racing writer already stored).
            reserved = false;
            if (replaced >= 0) Interlocked.Add(ref _usedBytes, request.Replace ? -replaced : -size);
            var announced = await AnnounceObjectAsync(id, cancellationToken).ConfigureAwait(false);
            Log.Stored(_logger, request.Object, size, announced);
            CountStored(size);
            await RespondAsync(stream, new HolderResponse { Present = true, Size = (ulong)size, Announced = (uint)announced }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (reserved) Interlocked.Add(ref _usedBytes, -size);
            _storeGate.Release();
        }
    }

    private async ValueTask<HolderResponse?> CheckStoreAsync(PeerId peer, StoreRequest request, CancellationToken cancellationToken)
    {
        if (!ArchiveObjectId.TryParse(request.Object, out var id)) return Error(HolderErrorCode.BadRequest, $"'{request.Object}' names no archive object");
        var max = Math.Min(Options.MaxObjectBytes, id.Kind == ArchiveObjectKind.Pack ? PackFormat.MaxPackBytes : ManifestCodec.MaxSealedBytes);
        if (request.Size == 0) return Error(HolderErrorCode.BadRequest, "an object has at least one byte");
        if (request.Size > (ulong)max) return Error(HolderErrorCode.TooLarge, $"{request.Size} bytes is more than the {max} this holder accepts");
        bool allowed;
        using (var deadline = new CancellationTokenSource(Options.RequestTimeout, _time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token))
            allowed = await _mayStore(peer, linked.Token).ConfigureAwait(false);
        if (!allowed) return Error(HolderErrorCode.Unauthorized, $"only admitted peers with the '{ArchiveHolderProtocol.PusherCapability}' capability store here");
        if (request.Replace && id.Kind == ArchiveObjectKind.Manifest && File.Exists(Store.PathOf(id)))
            return Error(HolderErrorCode.Immutable, "a manifest is written once and never replaced");
        return null;
    }

    private async Task<int> AnnounceObjectAsync(ArchiveObjectId id, CancellationToken cancellationToken)
    {
        if (_announce is null) return 0;
        try
        {
            return await _announce(ArchiveHolderProtocol.ProviderKey(id), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Stored all the same; the DHT's republish announces it later.
            Log.AnnounceFailed(_logger, e);
            return 0;
        }
    }

    private async Task FetchAsync(IP2PStream stream, FetchRequest request, CancellationToken cancellationToken)
    {
        if (!ArchiveObjectId.TryParse(request.Object, out var id))
        {
            await RespondAsync(stream, Error(HolderErrorCode.BadRequest, $"'{request.Object}' names no archive object"), cancellationToken).ConfigureAwait(false);
            return;
        }
        FileStream file;
        try
        {
            file = new FileStream(Store.PathOf(id), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            await RespondAsync(stream, Error(HolderErrorCode.NotFound, $"{id} is not held here"), cancellationToken).ConfigureAwait(false);
            return;
        }
        await using (file.ConfigureAwait(false))
        {
            var size = (ulong)file.Length;
            var length = request.Length == 0 && request.Offset <= size ? size - request.Offset : request.Length;
            if (request.Offset > size || length > size - request.Offset)
            {
                await RespondAsync(stream, Error(HolderErrorCode.BadRequest, $"range {request.Offset}+{length} is outside the {size} bytes of {id}"), cancellationToken)
                    .ConfigureAwait(false);
                return;
            }
            await RespondAsync(stream, new HolderResponse { Present = true, Size = size, Length = length }, cancellationToken).ConfigureAwait(false);
            file.Position = (long)request.Offset;
            var buffer = ArrayPool<byte>.Shared.Rent(ArchiveHolderProtocol.ChunkBytes);
            try
            {
                var left = (long)length;
                while (left > 0)
                {
                    var n = (int)Math.Min(left, ArchiveHolderProtocol.ChunkBytes);
                    await file.ReadExactlyAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    LengthPrefixed.Write(stream.Output, buffer.AsSpan(0, n));
                    await ArchiveHolderProtocol.FlushAsync(stream.Output, cancellationToken).ConfigureAwait(false);
                    left -= n;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private async Task HasAsync(IP2PStream stream, HasRequest request, CancellationToken cancellationToken)
    {
        if (!ArchiveObjectId.TryParse(request.Object, out var id))
        {
            await RespondAsync(stream, Error(HolderErrorCode.BadRequest, $"'{request.Object}' names no archive object"), cancellationToken).ConfigureAwait(false);
            return;
        }
        var info = new FileInfo(Store.PathOf(id));
        await RespondAsync(stream, info.Exists ? new HolderResponse { Present = true, Size = (ulong)info.Length } : new HolderResponse(), cancellationToken)
            .ConfigureAwait(false);
    }

    private async Task ListAsync(IP2PStream stream, ListRequest request, CancellationToken cancellationToken)
    {
        var limit = request.Limit is 0 or > ArchiveHolderProtocol.MaxListPage ? ArchiveHolderProtocol.MaxListPage : (int)request.Limit;
        var names = new List<string>();
        await foreach (var id in Store.ListAsync(request.Manifests ? ArchiveObjectKind.Manifest : ArchiveObjectKind.Pack, cancellationToken).ConfigureAwait(false))
        {
            var name = id.ToString();
            if (string.CompareOrdinal(name, request.After) > 0) names.Add(name);
        }
        names.Sort(StringComparer.Ordinal);
        var response = new HolderResponse();
        response.Objects.AddRange(names.Take(limit));
        await RespondAsync(stream, response, cancellationToken).ConfigureAwait(false);
    }
}
