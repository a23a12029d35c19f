using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Dht.Rpc;

/// <summary>
/// Serves inbound kad streams: several requests may follow each other on one stream (as js and go send them); each
/// must arrive within the idle timeout; a malformed or invalid request resets only this stream.
/// </summary>
internal sealed class KadStreamHandler(KadRequestHandler handler, TimeProvider timeProvider, TimeSpan idleTimeout) : IProtocolHandler
{
    /// <summary>Requests served on one stream before it is closed.</summary>
    public const int MaxRequestsPerStream = 64;

    public async ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        var remote = stream.Connection.RemotePeer;
        try
        {
            for (var served = 0; served < MaxRequestsPerStream; served++)
            {
                byte[]? bytes;
                using (var idle = new CancellationTokenSource(idleTimeout, timeProvider))
                using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, idle.Token))
                {
                    bytes = await LengthPrefixed.ReadAsync(stream.Input, KadMessageCodec.MaxMessageSize, linked.Token).ConfigureAwait(false);
                }
                if (bytes is null) break;
                var request = KadMessageCodec.Decode(bytes);
                var response = await handler(remote, request, cancellationToken).ConfigureAwait(false);
                if (response is null) continue;
                // A peer that asks but never reads would pin the answer in our send buffer: the write has a deadline.
                using var write = new CancellationTokenSource(idleTimeout, timeProvider);
                using var writeLinked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, write.Token);
                await LengthPrefixed.WriteAsync(stream.Output, KadMessageCodec.EncodeTrimmed(response), writeLinked.Token).ConfigureAwait(false);
            }
            await stream.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (InvalidDataException)
        {
            stream.Reset();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            stream.Reset(); // idle timeout
        }
        catch (IOException)
        {
            stream.Reset();
        }
    }
}
