using KontinuumP2P.Archive.Protos.Holder;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Archive.Holders;

/// <summary>One request to one holder per stream, each step under a deadline on the host's clock.</summary>
internal sealed class ArchiveHolderClient(IPeerHost host, TimeSpan requestTimeout, TimeSpan transferTimeout)
{
    /// <summary>Stores an object; returns the holder's answer (present, how many DHT peers it announced to).</summary>
    public async Task<HolderResponse> StoreAsync(PeerId holder, ArchiveObjectId id, ReadOnlyMemory<byte> data, bool replace, CancellationToken cancellationToken)
    {
        return await WithStreamAsync(holder, async (stream, ct) =>
        {
            ArchiveHolderProtocol.Write(stream.Output, new HolderRequest { Store = new StoreRequest { Object = id.ToString(), Size = (ulong)data.Length, Replace = replace } });
            await ArchiveHolderProtocol.FlushAsync(stream.Output, ct).ConfigureAwait(false);
            var ready = await ReceiveAsync(stream, holder, ct).ConfigureAwait(false);
            if (ready.Present) return ready;
            await ArchiveHolderProtocol.WriteChunksAsync(stream.Output, data, ct).ConfigureAwait(false);
            // The holder hashes, writes durably and announces before it answers: only the transfer deadline applies.
            return await ReceiveAsync(stream, holder, ct, transferTimeout).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Fetches a whole object of at most <paramref name="maxBytes"/>; null when the holder does not have it.</summary>
    public async Task<byte[]?> FetchAsync(PeerId holder, ArchiveObjectId id, long maxBytes, CancellationToken cancellationToken)
    {
        return await WithStreamAsync(holder, async (stream, ct) =>
        {
            ArchiveHolderProtocol.Write(stream.Output, new HolderRequest { Fetch = new FetchRequest { Object = id.ToString() } });
            await ArchiveHolderProtocol.FlushAsync(stream.Output, ct).ConfigureAwait(false);
            HolderResponse header;
            try
            {
                header = await ReceiveAsync(stream, holder, ct).ConfigureAwait(false);
            }
            catch (HolderException e) when (e.Code == HolderErrorCode.NotFound)
            {
                return null;
            }
            if (header.Length != header.Size) throw new InvalidDataException($"holder {holder} sent {header.Length} of {header.Size} bytes for a whole fetch");
            if (header.Length > (ulong)maxBytes) throw new Packs.PackFormatException($"{id} is {header.Length} bytes at {holder}, more than the {maxBytes} allowed");
            var data = new byte[header.Length];
            await ArchiveHolderProtocol.ReadChunksAsync(stream.Input, data, ct).ConfigureAwait(false);
            return data;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether the holder has the object.</summary>
    public async Task<bool> HasAsync(PeerId holder, ArchiveObjectId id, CancellationToken cancellationToken) =>
        await WithStreamAsync(holder, async (stream, ct) =>
        {
            ArchiveHolderProtocol.Write(stream.Output, new HolderRequest { Has = new HasRequest { Object = id.ToString() } });
            await ArchiveHolderProtocol.FlushAsync(stream.Output, ct).ConfigureAwait(false);
            return (await ReceiveAsync(stream, holder, ct).ConfigureAwait(false)).Present;
        }, cancellationToken).ConfigureAwait(false);

    /// <summary>One page of the holder's object names of one kind, after <paramref name="after"/> in ordinal order.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(PeerId holder, bool manifests, string after, CancellationToken cancellationToken) =>
        await WithStreamAsync(holder, async (stream, ct) =>
        {
            ArchiveHolderProtocol.Write(stream.Output, new HolderRequest { List = new ListRequest { Manifests = manifests, After = after } });
            await ArchiveHolderProtocol.FlushAsync(stream.Output, ct).ConfigureAwait(false);
            return (IReadOnlyList<string>)[.. (await ReceiveAsync(stream, holder, ct).ConfigureAwait(false)).Objects];
        }, cancellationToken).ConfigureAwait(false);

    private async Task<T> WithStreamAsync<T>(PeerId holder, Func<IP2PStream, CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        using var transfer = new CancellationTokenSource(transferTimeout, host.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, transfer.Token);
        IP2PStream stream;
        using (var open = new CancellationTokenSource(requestTimeout, host.TimeProvider))
        using (var openLinked = CancellationTokenSource.CreateLinkedTokenSource(linked.Token, open.Token))
            stream = await host.NewStreamAsync(holder, [ArchiveHolderProtocol.ProtocolId], openLinked.Token).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                var result = await body(stream, linked.Token).ConfigureAwait(false);
                await stream.Output.CompleteAsync().ConfigureAwait(false);
                return result;
            }
            catch
            {
                stream.Reset();
                throw;
            }
        }
    }

    private async Task<HolderResponse> ReceiveAsync(IP2PStream stream, PeerId holder, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? requestTimeout, host.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var response = await ArchiveHolderProtocol.ReadAsync(stream.Input, HolderResponse.Parser, linked.Token).ConfigureAwait(false)
            ?? throw new IOException($"holder {holder} closed the stream");
        if (response.Code != 0)
        {
            var code = (HolderErrorCode)response.Code;
            throw new HolderException(Enum.IsDefined(code) ? code : HolderErrorCode.Unspecified, $"holder {holder}: {code}: {response.Message}");
        }
        return response;
    }
}
